package check

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestProbeConnect(t *testing.T) {
	a := listen(t, func(net.Conn) {})
	o := (&Probe{Addr: a, Timeout: time.Second}).Run(context.Background())
	if !o.OK || o.Reason != "Layer4 check passed" {
		t.Fatalf("%+v", o)
	}
	// A closed port: refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	o = (&Probe{Addr: dead, Timeout: time.Second}).Run(context.Background())
	if o.OK || o.Reason != "Layer4 connection problem" || o.Info != "Connection refused" {
		t.Fatalf("%+v", o)
	}
}

func TestProbeTCPCheckSequence(t *testing.T) {
	a := listen(t, func(c net.Conn) {
		c.Write([]byte("+OK ready\r\n"))
		b := make([]byte, 64)
		n, _ := c.Read(b)
		if strings.HasPrefix(string(b[:n]), "PING") {
			c.Write([]byte("+PONG\r\n"))
		} else {
			c.Write([]byte("-ERR\r\n"))
		}
	})
	steps, err := Compile([]Step{
		{Action: "expect", Match: "rstring", Pattern: `^\+OK`},
		{Action: "send", Data: []byte("PING\r\n")},
		{Action: "expect", Match: "string", Pattern: "+PONG"},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := (&Probe{Addr: a, Timeout: time.Second, Steps: steps}).Run(context.Background())
	if !o.OK {
		t.Fatalf("%+v", o)
	}
	steps[1].Data = []byte("NOPE\r\n")
	o = (&Probe{Addr: a, Timeout: time.Second, Steps: steps}).Run(context.Background())
	if o.OK || !strings.Contains(o.Info, "at step 3") {
		t.Fatalf("%+v", o)
	}
	neg, _ := Compile([]Step{{Action: "expect", Negate: true, Match: "string", Pattern: "+OK"}})
	o = (&Probe{Addr: a, Timeout: time.Second, Steps: neg}).Run(context.Background())
	if o.OK {
		t.Fatalf("negated expect passed: %+v", o)
	}
}

func TestProbeExpectTimeout(t *testing.T) {
	a := listen(t, func(c net.Conn) { c.Read(make([]byte, 1)) })
	steps, _ := Compile([]Step{{Action: "expect", Match: "string", Pattern: "x"}})
	o := (&Probe{Addr: a, Timeout: 100 * time.Millisecond, Steps: steps}).Run(context.Background())
	if o.OK || o.Reason != "Layer7 timeout" {
		t.Fatalf("%+v", o)
	}
	if _, err := Compile([]Step{{Action: "expect", Match: "rstring", Pattern: "("}}); err == nil {
		t.Fatal("bad regexp accepted")
	}
}

// tcp-check wording as HAProxy 2.6 logs it.
func TestTCPCheckDetails(t *testing.T) {
	a := listen(t, func(c net.Conn) { c.Write([]byte("+OK\r\n")) })
	steps, _ := Compile([]Step{{Action: "expect", Match: "string", Pattern: "+OK"}})
	o := (&Probe{Addr: a, Timeout: time.Second, Steps: steps}).Run(context.Background())
	if o.Status != StatusL7OK || o.Detail() != `Layer7 check passed, code: 0, info: "(tcp-check)"` {
		t.Fatalf("%+v %q", o, o.Detail())
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	o = (&Probe{Addr: dead, Timeout: time.Second, Steps: steps}).Run(context.Background())
	if o.Status != StatusL4CON || o.Detail() != `Layer4 connection problem, info: "Connection refused at initial connection step of tcp-check"` {
		t.Fatalf("%+v %q", o, o.Detail())
	}
}
