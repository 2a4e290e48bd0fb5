package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
)

// systemd readiness means proxy and VRRP up: READY=1 arrives only once the instance has
// left INIT, and a node whose VRRP cannot start never sends it.
func TestReadyOnlyWithVRRPUp(t *testing.T) {
	p := newPair(t)
	notify := filepath.Join(p.dir, "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 4)
	go func() {
		buf := make([]byte, 256)
		for {
			n, _, err := l.ReadFromUnix(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	start := func(cfg string) (*testbed.Proc, func() string) {
		path := filepath.Join(p.dir, "ready.cfg")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := p.n1.Cmd(p.appld, "-f", path, "--node", "n1", "--admin-socket", p.s1, "--no-bootstrap")
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
		out := &testbed.SafeBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
		return &testbed.Proc{Cmd: cmd, Output: out}, out.String
	}

	first, out := start(pairConfig)
	select {
	case msg := <-got:
		if msg != "READY=1" {
			t.Fatalf("notify message %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no READY=1:\n%s", out())
	}
	st, err := p.status(p.s1)
	if err != nil || !st.Local.Ready || state(&st.Local) == "INIT" || state(&st.Local) == "" {
		t.Fatalf("at READY: %v ready=%v state=%q", err, st.Local.Ready, state(&st.Local))
	}

	_ = first.Cmd.Process.Kill()
	testbed.Eventually(t, 5*time.Second, 20*time.Millisecond, "the first appld gone", func() bool {
		_, err := p.status(p.s1)
		return err != nil
	})

	// VRRP on an interface that does not exist: appld stops with the error and never
	// tells systemd it is ready.
	bad := strings.Replace(pairConfig, "interface eth0", "interface nosuch0", 1)
	_, out2 := start(bad)
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld to stop on its vrrp error", func() bool {
		return strings.Contains(out2(), "node stopped with an error")
	})
	if !strings.Contains(out2(), `interface \"nosuch0\"`) {
		t.Fatalf("the error does not name the interface:\n%s", out2())
	}
	select {
	case msg := <-got:
		t.Fatalf("READY sent (%q) although VRRP could not start:\n%s", msg, out2())
	default:
	}
}
