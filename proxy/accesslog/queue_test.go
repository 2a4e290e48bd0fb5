package accesslog

import (
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateWriter blocks every Write until the gate is opened, like stdout into a
// pipe nobody reads.
type gateWriter struct {
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (g *gateWriter) Write(b []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(b)
}

func TestQueueNeverBlocksAndCountsDrops(t *testing.T) {
	g := &gateWriter{gate: make(chan struct{}), entered: make(chan struct{})}
	q := newQueue(g, false)
	s := &Sink{w: q, q: q, maxSev: Debug, format: "raw"}
	s.Send(Info, time.Now(), []byte("first"))
	<-g.entered // the writer holds "first" and is stuck

	before := Dropped()
	line := bytes.Repeat([]byte("x"), 1000)
	fits := queueLimit / (len(line) + 1)
	start := time.Now()
	for i := 0; i < fits+50; i++ {
		s.Send(Info, time.Now(), line)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("sends took %v with a stuck target", d)
	}
	if got := Dropped() - before; got != 50 {
		t.Fatalf("dropped %d lines, want 50 (queue holds %d)", got, fits)
	}
	close(g.gate)
	if !q.flush() {
		t.Fatal("queue not flushed once the target reads again")
	}
	g.mu.Lock()
	out := g.buf.String()
	g.mu.Unlock()
	if !strings.HasPrefix(out, "first\n") || strings.Count(out, "\n") != fits+1 {
		t.Fatalf("target got %d lines, want %d", strings.Count(out, "\n"), fits+1)
	}
	if !q.close() {
		t.Fatal("close did not stop the writer")
	}
	s.Send(Info, time.Now(), []byte("after close"))
	if got := Dropped() - before; got != 51 {
		t.Fatalf("a line after close: dropped %d, want 51", got)
	}
}

func TestQueueDatagramKeepsLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := Open(Target{Address: "unix:" + path, Format: "raw"}, "haproxy")
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := 0; i < n; i++ {
		s.Send(Info, time.Now(), []byte(fmt.Sprintf("line %d", i)))
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 512)
	for i := 0; i < n; i++ {
		m, _, err := pc.ReadFrom(b)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if want := fmt.Sprintf("line %d\n", i); string(b[:m]) != want {
			t.Fatalf("datagram %d = %q, want %q", i, b[:m], want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStdoutSinksShareOneQueue(t *testing.T) {
	a, err := Open(Target{Address: "stdout", Format: "raw"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(Target{Address: "stdout", Facility: "daemon"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	if a.q == nil || a.q != b.q {
		t.Fatal("stdout sinks do not share one queue")
	}
	a.Close() // flush only: b still logs
	stdoutQ.mu.Lock()
	closed := stdoutQ.closed
	stdoutQ.mu.Unlock()
	if closed {
		t.Fatal("closing one stdout sink closed the shared queue")
	}
}
