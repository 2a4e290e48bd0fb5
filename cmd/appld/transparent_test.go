package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
	"appl/netsetup"
	"appl/netsetup/netsetuptest"
	"appl/proxy/proxyproto"
)

// startAppld writes cfg and runs appld in host h, waiting until addr accepts from h.
func startAppld(t *testing.T, h *testbed.Host, cfg string) *testbed.Proc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "appl.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return h.Start(appldBinary(t), "-no-bootstrap", "-f", path, "--admin-socket", filepath.Join(filepath.Dir(path), "admin.sock"))
}

func waitListening(t *testing.T, h *testbed.Host, addr string, p *testbed.Proc) {
	t.Helper()
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld listening on "+addr, func() bool {
		select {
		case <-p.Done():
			t.Fatalf("appld exited:\n%s", p.Output.String())
		default:
		}
		c, err := h.Dial("tcp4", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Seed 000: a client talks to the backend's own address; B intercepts with TPROXY,
// appld forwards from the client's address, the backend sees the client.
func TestTransparentProxyThroughAppld(t *testing.T) {
	x := netsetuptest.BuildABC(t)
	netsetuptest.Backend(t, x.C, 5000)
	cfg := fmt.Sprintf(`global
    log stdout local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend ft_cuju
    bind 0.0.0.0:5000 transparent
    default_backend bk_vm
backend bk_vm
    source 0.0.0.0 usesrc clientip
    server vm1 %s:5000
`, x.BackendAddr)
	p := startAppld(t, x.B, cfg)
	waitListening(t, x.B, "127.0.0.1:5000", p)

	ncfg, err := netsetupDecode(x.NetworkConfig("5000"))
	if err != nil {
		t.Fatal(err)
	}
	sys, err := netsetup.OpenNetNS("/run/netns/" + x.B.NS)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := netsetup.PlanFor(sys, ncfg, netsetup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := netsetup.Apply(sys, plan); err != nil {
		t.Fatal(err)
	}
	got, err := netsetuptest.ClientSees(x.A, x.BackendAddr+":5000")
	if err != nil {
		t.Fatalf("client: %v\nappld:\n%s", err, p.Output.String())
	}
	if !strings.HasPrefix(got, "peer="+x.ClientAddr+":") {
		t.Fatalf("backend saw %q, want the client's own address %s", got, x.ClientAddr)
	}
	// The access log line proves appld, not the kernel's forwarding, carried it.
	testbed.Eventually(t, 5*time.Second, 20*time.Millisecond, "an access log line for ft_cuju", func() bool {
		return strings.Contains(p.Output.String(), "ft_cuju bk_vm/vm1")
	})
}

// Seed 001's non-transparent mode: the client connects to the balancer's address and the
// backend learns the client's address from a PROXY header (send-proxy).
func TestSendProxyThroughAppld(t *testing.T) {
	x := netsetuptest.BuildABC(t)
	ln, err := x.C.Listen("tcp4", x.BackendAddr+":2525")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				h, err := proxyproto.ReadConn(c)
				if err != nil {
					fmt.Fprintf(c, "error=%v\n", err)
					return
				}
				fmt.Fprintf(c, "proxied=%s\n", h.Src)
			}(c)
		}
	}()
	cfg := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen smtp
    bind %s:25
    balance roundrobin
    server mx1 %s:2525 send-proxy check inter 1s
`, x.BExtAddr, x.BackendAddr)
	p := startAppld(t, x.B, cfg)
	waitListening(t, x.B, x.BExtAddr+":25", p)
	c, err := x.A.Dial("tcp4", x.BExtAddr+":25", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v\nappld:\n%s", err, p.Output.String())
	}
	if !strings.HasPrefix(line, "proxied="+x.ClientAddr+":") {
		t.Fatalf("backend got %q, want the client's address %s in the PROXY header", line, x.ClientAddr)
	}
}
