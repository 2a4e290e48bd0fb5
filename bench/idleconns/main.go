// Command idleconns measures what idle proxied connections cost a proxy. It
// runs a backend that holds every connection it accepts, opens -n connections
// to the proxy (whose server is that backend), and proves each one end to end
// by a one-byte echo through the proxy. Then it prints "ready N" and holds
// them idle until SIGTERM/SIGINT (or -timeout), so that bench/run.sh
// can read the proxy's VmHWM/VmRSS meanwhile.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	proxy := flag.String("proxy", "", "proxy frontend address to dial")
	listen := flag.String("listen", "", "backend address the proxy forwards to")
	n := flag.Int("n", 10000, "connections to open")
	par := flag.Int("parallel", 256, "connections opened concurrently")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	if *proxy == "" || *listen == "" || *n <= 0 || *par <= 0 {
		fmt.Fprintln(os.Stderr, "usage: idleconns -proxy ADDR -listen ADDR [-n N]")
		os.Exit(2)
	}
	deadline := time.Now().Add(*timeout)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail("backend listen: %v", err)
	}
	var (
		mu   sync.Mutex
		held []net.Conn // backend side, kept open and idle
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				var b [1]byte
				c.SetDeadline(deadline)
				if _, err := io.ReadFull(c, b[:]); err != nil {
					c.Close()
					return
				}
				if _, err := c.Write(b[:]); err != nil {
					c.Close()
					return
				}
				c.SetDeadline(time.Time{})
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}()
		}
	}()

	clients := make([]net.Conn, *n)
	var (
		ok, failed atomic.Int64
		firstErr   atomic.Value
		wg         sync.WaitGroup
		sem        = make(chan struct{}, *par)
	)
	start := time.Now()
	for i := range clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := dialEcho(*proxy, deadline)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			clients[i] = c
			ok.Add(1)
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fail("%d of %d connections failed, first: %v", f, *n, firstErr.Load())
	}
	// Every echo came back, so the backend holds (or is about to append)
	// each connection; wait for the bookkeeping to catch up.
	for {
		mu.Lock()
		h := len(held)
		mu.Unlock()
		if h >= *n {
			break
		}
		if time.Now().After(deadline) {
			fail("backend holds %d of %d connections", h, *n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("ready %d %.2fs\n", ok.Load(), time.Since(start).Seconds())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(time.Until(deadline)):
	}
	for _, c := range clients {
		c.Close()
	}
}

func dialEcho(addr string, deadline time.Time) (net.Conn, error) {
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(deadline)
	var b [1]byte
	if _, err := c.Write([]byte{'x'}); err == nil {
		_, err = io.ReadFull(c, b[:])
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "idleconns: "+format+"\n", args...)
	os.Exit(1)
}
