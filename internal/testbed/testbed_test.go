package testbed

import (
	"io"
	"testing"
	"time"
)

func TestTwoHostsOnASwitch(t *testing.T) {
	b := New(t)
	sw := b.Switch("sw")
	a, c := b.Host("a"), b.Host("c")
	b.Plug(a, sw, "eth0", "198.18.0.1/24", "2001:db8::1/64")
	b.Plug(c, sw, "eth0", "198.18.0.2/24")
	if !a.HasAddr("eth0", "198.18.0.1") || a.HasAddr("eth0", "198.18.0.2") {
		t.Fatal("HasAddr does not reflect the configured addresses")
	}
	l, err := c.Listen("tcp", "198.18.0.2:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err == nil {
			_, _ = conn.Write([]byte("hello from c"))
			conn.Close()
		}
	}()
	conn, err := a.Dial("tcp", "198.18.0.2:7000", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(conn)
	if string(got) != "hello from c" {
		t.Fatalf("got %q", got)
	}
	// The host namespace must not see the test address.
	if _, err := c.Dial("tcp", "198.18.0.1:1", 200*time.Millisecond); err == nil {
		t.Fatal("unexpected listener on a")
	}
	p := a.Start("sleep", "30")
	p.Kill()
	if _, done := p.Wait(time.Second); !done {
		t.Fatal("process not killed")
	}
}
