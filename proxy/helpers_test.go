package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"appl/proxy/config"
)

// testBackend is a small TCP server: it writes its name on accept, then echoes until the
// client closes.
type testBackend struct {
	name   string
	ln     net.Listener
	addr   string
	hits   atomic.Int64
	mu     sync.Mutex
	conns  map[net.Conn]bool
	onConn func(c net.Conn) bool // true: handled
	wg     sync.WaitGroup
}

func startBackend(t *testing.T, name, addr string) *testBackend {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{name: name, ln: ln, addr: ln.Addr().String(), conns: map[net.Conn]bool{}}
	b.wg.Add(1)
	go b.loop()
	t.Cleanup(b.stop)
	return b
}

func (b *testBackend) loop() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.hits.Add(1)
		b.mu.Lock()
		b.conns[c] = true
		h := b.onConn
		b.mu.Unlock()
		go func() {
			defer func() {
				b.mu.Lock()
				delete(b.conns, c)
				b.mu.Unlock()
				c.Close()
			}()
			if h != nil && h(c) {
				return
			}
			c.Write([]byte(b.name + "\n"))
			io.Copy(c, c)
		}()
	}
}

// stop closes the listener and every connection (a crashed server).
func (b *testBackend) stop() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func tcpFrontend(name, addr, def string) *config.Frontend {
	return &config.Frontend{Name: name, Binds: []*config.Bind{{Network: "tcp", Address: addr}}, DefaultBackend: def,
		Timeouts: config.Timeouts{Client: 30 * time.Second}}
}

func tcpBackend(name, algo string, servers ...*config.Server) *config.Backend {
	return &config.Backend{Name: name, Balance: config.Balance{Algo: algo}, Servers: servers, Retries: 3,
		Timeouts: config.Timeouts{Connect: 2 * time.Second, Server: 30 * time.Second}}
}

func srv(name, addr string, weight int) *config.Server {
	host, port, _ := net.SplitHostPort(addr)
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	return &config.Server{Name: name, Address: host, Port: p, Weight: weight, Rise: 2, Fall: 3,
		Inter: 2 * time.Second}
}

// freeAddr returns a loopback address with a port nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return zap.New(core), logs
}

func startProxy(t testing.TB, cfg *config.Config) (*Proxy, *observer.ObservedLogs) {
	t.Helper()
	log, logs := observed()
	p, err := New(cfg, log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("proxy log: %s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	return p, logs
}

// hello connects through the proxy and returns the name the backend sent.
func hello(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return line[:len(line)-1], nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func serverStatus(p *Proxy, be, name string) ServerStatus {
	for _, b := range p.Status().Backends {
		if b.Name == be {
			for _, s := range b.Servers {
				if s.Name == name {
					return s
				}
			}
		}
	}
	return ServerStatus{}
}

// handle replaces what the backend does with new connections.
func (b *testBackend) handle(h func(net.Conn) bool) {
	b.mu.Lock()
	b.onConn = h
	b.mu.Unlock()
}
