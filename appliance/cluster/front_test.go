package cluster

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/proxy/maps"
	"appl/proxy/runtime"
)

// mapsOnly is a runtime target that only has maps (the commands used here need no more).
type mapsOnly struct {
	runtime.Target
	st *maps.Store
}

func (m mapsOnly) Maps() runtime.MapStore { return m.st }

func TestFrontKeepsSessionStateAndCommitsWrites(t *testing.T) {
	f := twoBoxes(t)
	w := newWrites(f)
	front := NewFront(runtime.NewServer(mapsOnly{st: f.boxes[0]}, nil), w)
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "rt.sock"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = front.Serve(l, runtime.LevelAdmin) }()
	t.Cleanup(func() { front.Close() })

	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	send := func(line string) string {
		prompts := len(runtime.SplitCommands(line))
		t.Helper()
		if _, err := io.WriteString(c, line+"\n"); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for {
			s, err := r.ReadString(' ')
			b.WriteString(s)
			if err != nil {
				return b.String()
			}
			if strings.HasSuffix(b.String(), "\n> ") {
				if prompts--; prompts == 0 {
					return b.String()
				}
			}
		}
	}
	if got := send("prompt"); got != "\n> " {
		t.Fatalf("prompt: %q", got)
	}
	if got := send("add map /etc/appl/hosts.map a.example be_a; show map /etc/appl/hosts.map"); !strings.Contains(got, " a.example be_a\n") {
		t.Fatalf("add; show: %q", got)
	}
	if n := f.boxes[1].Ref("/etc/appl/hosts.map").Len(); n != 1 {
		t.Fatalf("the write did not go through the log: other box has %d entries", n)
	}
	if got := send("operator"); got != "\n> " {
		t.Fatalf("operator: %q", got)
	}
	if got := send("set server web/s1 state maint"); !strings.HasPrefix(got, "Permission denied\n") {
		t.Fatalf("after lowering to operator: %q", got)
	}
	if got := send("show cli level"); !strings.HasPrefix(got, "operator\n") {
		t.Fatalf("level: %q", got)
	}
	_, _ = io.WriteString(c, "quit\n")
	if rest, _ := io.ReadAll(r); len(rest) != 0 {
		t.Fatalf("after quit: %q", rest)
	}
	// Exec (the admin API's path) answers like a socket.
	if got := front.Exec(runtime.LevelAdmin, "del map /etc/appl/hosts.map a.example"); got != "\n" {
		t.Fatalf("exec del: %q", got)
	}
	if n := f.boxes[1].Ref("/etc/appl/hosts.map").Len(); n != 0 {
		t.Fatalf("exec del did not reach the other box: %d entries", n)
	}
}
