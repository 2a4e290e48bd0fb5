package proxy

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"appl/proxy/config"
	"appl/proxy/evloop"
	"appl/proxy/relay"
)

// TestIdleConnectionCost opens 2,000 idle proxied connections and reports the memory
// and file descriptors each costs the process. The test's own clients and backend live
// in the same process without goroutines of their own (plain sockets held in slices), so
// the figure is the proxy's cost plus two sockets' Go structures.
func TestIdleConnectionCost(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 connections")
	}
	const n = 2000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	fa := freeAddr(t)
	be := tcpBackend("be", "roundrobin", srv("s0", ln.Addr().String(), 1))
	log, logs := observed()
	defer func() {
		if t.Failed() {
			ents, _ := os.ReadDir("/proc/self/fd")
			t.Logf("open fds: %d", len(ents))
			for _, e := range logs.All() {
				t.Logf("proxy log: %s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	}()
	p, err := New(&config.Config{Frontends: []*config.Frontend{tcpFrontend("fe", fa, "be")}, Backends: []*config.Backend{be}}, log, Options{ParkAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Close the clients first, so that Shutdown finds nothing to drain.
		for _, c := range held {
			c.Close()
		}
		held = nil
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	parked0, active0 := relay.Parked(), evloop.Active()

	measure := func() (heap, stack uint64, fds int) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		ents, _ := os.ReadDir("/proc/self/fd")
		return ms.HeapInuse, ms.StackInuse, len(ents)
	}
	// Warm up the runtime (pools, first goroutines) before the baseline.
	if c, err := net.Dial("tcp", fa); err == nil {
		s, _ := ln.Accept()
		c.Write([]byte("x"))
		s.Read(make([]byte, 1))
		c.Close()
		s.Close()
	}
	waitNoConn(p)
	h0, s0, f0 := measure()
	for k := 0; k < n; k++ {
		c, err := net.Dial("tcp", fa)
		if err != nil {
			t.Fatalf("connection %d: %v", k, err)
		}
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		s, err := ln.Accept()
		if err != nil {
			t.Fatalf("connection %d did not reach the backend: %v", k, err)
		}
		// One byte each way proves the path and leaves the relay parked, as a real
		// idle connection after its first exchange.
		c.Write([]byte("x"))
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("y"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		held = append(held, c, s)
	}
	per := func(a, b uint64) float64 { return float64(int64(b)-int64(a)) / n }
	setupDone := time.Now()
	ha, sa, _ := measure()
	t.Logf("per proxied connection before parking: heap %.0f B, goroutine stacks %.0f B", per(h0, ha), per(s0, sa))
	eventually(t, 30*time.Second, "every idle direction parked", func() bool {
		if relay.DefaultMode() == relay.ModeLoop {
			// No goroutine to park: the event loops hold every connection from the start.
			return evloop.Active()-active0 == n
		}
		return relay.Parked()-parked0 == 2*n
	})
	t.Logf("all parked %v after the last connection", time.Since(setupDone))
	h1, s1, f1 := measure()
	fdPer := float64(f1-f0) / n
	t.Logf("per idle proxied connection, parked: heap %.0f B, goroutine stacks %.0f B, total %.0f B; fds %.2f (4 are sockets: client, backend and the proxy's two)",
		per(h0, h1), per(s0, s1), per(h0, h1)+per(s0, s1), fdPer)
	if fdPer > 4.05 {
		t.Fatalf("%.2f fds per idle connection: the relay holds pipes while idle", fdPer)
	}
	if got := p.Status().ActConn; got != n {
		t.Fatalf("actconn %d", got)
	}
	if tot := per(h0, h1) + per(s0, s1); tot > 4096 {
		t.Fatalf("%.0f bytes per idle connection", tot)
	}
	// Parked connections still work.
	for k := 0; k < n; k += 97 {
		c, s := held[2*k], held[2*k+1]
		c.Write([]byte("z"))
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
			t.Fatalf("parked connection %d: %v", k, err)
		}
	}
}
