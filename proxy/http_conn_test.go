package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// httpSession is the engine's context: kill must end it like a cancel would, for its
// AfterFunc callbacks, its Done channel and contexts derived from it.
func TestHTTPSessionContext(t *testing.T) {
	hs := &httpSession{}
	if hs.Err() != nil {
		t.Fatal("a new session is not done")
	}
	if v, ok := hs.Value(ctxKey{}).(*httpSession); !ok || v != hs {
		t.Fatal("Value(ctxKey{}) is not the session")
	}
	ran := make(chan string, 4)
	stopA := context.AfterFunc(hs, func() { ran <- "a" }) // through hs.AfterFunc
	stopB := hs.AfterFunc(func() { ran <- "b" })
	stopC := hs.AfterFunc(func() { ran <- "c" })
	if !stopB() || stopB() {
		t.Fatal("stop: true once, then false")
	}
	child, cancelChild := context.WithCancel(hs)
	defer cancelChild()
	done := hs.Done()
	select {
	case <-done:
		t.Fatal("done before kill")
	default:
	}
	hs.kill()
	hs.kill() // a second kill (hard stop after shutdown session) is harmless
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case s := <-ran:
			got[s] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("callbacks after kill: %v, want a and c", got)
		}
	}
	if !got["a"] || !got["c"] || got["b"] {
		t.Fatalf("callbacks %v, want a and c (b was stopped)", got)
	}
	if stopA() || stopC() {
		t.Fatal("stop after the callback ran must report false")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed by kill")
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a derived context was not cancelled by kill")
	}
	if hs.Err() != context.Canceled {
		t.Fatalf("Err %v", hs.Err())
	}
	late := make(chan struct{})
	hs.AfterFunc(func() { close(late) })
	select {
	case <-late:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc after kill did not run")
	}
	select {
	case <-ran:
		t.Fatal("a stopped callback ran")
	default:
	}
}

// `shutdown session` closes an http session's client at once, idle between requests
// or waiting for its server's answer (whichever way its client socket was accepted).
func TestHTTPShutdownSession(t *testing.T) {
	back := rawHTTPBackend(t, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	mute, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	front := freeAddr(t)
	p, _ := startProxy(t, loadCfg(t, `
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
frontend fe
    bind `+front+`
    use_backend mute if { path_beg /mute }
    default_backend be
backend be
    server s1 `+back+`
backend mute
    server m1 `+mute.Addr().String()+`
`))
	kill := func(c net.Conn) {
		t.Helper()
		want := addrPort(c.LocalAddr()).String()
		var id uint64
		eventually(t, 5*time.Second, "session listed", func() bool {
			for _, si := range p.Sessions() {
				if si.Src == want {
					id = si.ID
					return true
				}
			}
			return false
		})
		if err := p.ShutdownSession(id); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for {
			_, err := c.Read(buf)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the killed session's client connection stayed open")
			}
			if err != nil {
				return
			}
		}
	}
	idle, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err := http.ReadResponse(bufio.NewReader(idle), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	kill(idle)
	eventually(t, 5*time.Second, "idle session ended", func() bool { return len(p.Sessions()) == 0 })

	waiting, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	waiting.Write([]byte("GET /mute HTTP/1.1\r\nHost: x\r\n\r\n"))
	eventually(t, 5*time.Second, "request at the mute server", func() bool {
		return p.Status().Backends != nil && len(p.Sessions()) == 1
	})
	// The engine is cancelled: the client is closed at once and the session ends
	// without waiting for the mute server (timeout server is 30 s).
	kill(waiting)
	eventually(t, 5*time.Second, "session waiting for its server ended", func() bool { return len(p.Sessions()) == 0 })
}

// Stopping the first registration (the session's one-callback fast path) keeps the
// registrations made after it: a kill still runs them.
func TestHTTPSessionStopFirstKeepsLater(t *testing.T) {
	hs := &httpSession{}
	ran := make(chan string, 2)
	stopA := hs.AfterFunc(func() { ran <- "a" })
	hs.AfterFunc(func() { ran <- "b" })
	if !stopA() {
		t.Fatal("stop of the first registration reported false")
	}
	hs.kill()
	select {
	case s := <-ran:
		if s != "b" {
			t.Fatalf("callback %q ran, want b", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the later registration was lost when the first was stopped")
	}
}
