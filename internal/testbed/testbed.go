package testbed

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Bed is a set of namespaces owned by one test.
type Bed struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	n      int
}

// Host is a network namespace standing for one machine.
type Host struct {
	bed  *Bed
	Name string // the host's short name given by the test
	NS   string // the netns name (ip netns)
}

// Switch is a bridge in a namespace of its own that hosts are plugged into.
type Switch struct {
	*Host
	Bridge string
}

// Skip reasons are explicit so a CI log shows why integration tests did not run.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("testbed: integration test needs root (CAP_NET_ADMIN) to create network namespaces; skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("testbed: ip(8) from iproute2 not found; skipped")
	}
}

// New makes an empty bed; every namespace it creates is deleted at cleanup.
func New(t testing.TB) *Bed {
	t.Helper()
	requireRoot(t)
	var r [3]byte
	_, _ = rand.Read(r[:])
	return &Bed{t: t, prefix: "tb" + hex.EncodeToString(r[:])}
}

func (b *Bed) next() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	return b.n
}

// Host creates a namespace with loopback up.
func (b *Bed) Host(name string) *Host {
	b.t.Helper()
	h := &Host{bed: b, Name: name, NS: b.prefix + "-" + name}
	mustRun(b.t, "ip", "netns", "add", h.NS)
	b.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", h.NS).Run() })
	h.MustRun("ip", "link", "set", "lo", "up")
	return h
}

// Switch creates a namespace holding one bridge, up.
func (b *Bed) Switch(name string) *Switch {
	b.t.Helper()
	h := b.Host(name)
	h.MustRun("ip", "link", "add", "br0", "type", "bridge")
	h.MustRun("ip", "link", "set", "br0", "up")
	return &Switch{Host: h, Bridge: "br0"}
}

// Plug links host h to the switch with a veth named ifname on the host side, brings it up
// and adds the given CIDR addresses (IPv6 DAD disabled so addresses are usable at once).
func (b *Bed) Plug(h *Host, sw *Switch, ifname string, cidrs ...string) {
	b.t.Helper()
	peer := fmt.Sprintf("p%d", b.next())
	b.Wire(h, ifname, sw.Host, peer)
	sw.MustRun("ip", "link", "set", peer, "master", sw.Bridge)
	sw.MustRun("ip", "link", "set", peer, "up")
	h.Configure(ifname, cidrs...)
}

// Wire creates a veth pair between two hosts (down, no addresses). Both ends are created
// in a's namespace and the peer moved at once, so nothing lingers in the host's namespace.
func (b *Bed) Wire(a *Host, aIf string, z *Host, zIf string) {
	b.t.Helper()
	tmp := fmt.Sprintf("%sv%d", b.prefix[:6], b.next())
	a.MustRun("ip", "link", "add", aIf, "type", "veth", "peer", "name", tmp)
	a.MustRun("ip", "link", "set", tmp, "netns", z.NS)
	z.MustRun("ip", "link", "set", tmp, "name", zIf)
}

// Configure brings ifname up with addresses; IPv6 DAD is off so they are usable at once.
func (h *Host) Configure(ifname string, cidrs ...string) {
	h.bed.t.Helper()
	h.MustRun("sysctl", "-qw", "net.ipv6.conf."+ifname+".accept_dad=0")
	for _, c := range cidrs {
		h.MustRun("ip", "addr", "add", c, "dev", ifname)
	}
	h.MustRun("ip", "link", "set", ifname, "up")
}

// Cmd returns a command that runs inside the host's namespace.
func (h *Host) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs a command in the host and returns its combined output.
func (h *Host) Run(name string, args ...string) (string, error) {
	out, err := h.Cmd(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s %s: %v: %s", h.Name, name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// MustRun runs a command in the host and fails the test on error.
func (h *Host) MustRun(name string, args ...string) string {
	h.bed.t.Helper()
	out, err := h.Run(name, args...)
	if err != nil {
		h.bed.t.Fatal(err)
	}
	return out
}

// Proc is a process started in a host; it is killed at cleanup if still running.
type Proc struct {
	Cmd    *exec.Cmd
	Output *SafeBuffer
	done   chan struct{}
	err    error
}

// Start runs a long-lived command in the host. Its stdout and stderr are collected.
func (h *Host) Start(name string, args ...string) *Proc {
	h.bed.t.Helper()
	p := &Proc{Cmd: h.Cmd(name, args...), Output: &SafeBuffer{}, done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Output, p.Output
	if err := p.Cmd.Start(); err != nil {
		h.bed.t.Fatalf("%s: start %s: %v", h.Name, name, err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	h.bed.t.Cleanup(func() {
		p.Kill()
		if h.bed.t.Failed() {
			h.bed.t.Logf("%s: output of %s:\n%s", h.Name, name, p.Output.String())
		}
	})
	return p
}

// Kill sends SIGKILL (ip netns exec execs the command, so this reaches it) and waits.
func (p *Proc) Kill() {
	if p.Cmd.Process != nil {
		_ = p.Cmd.Process.Kill()
	}
	<-p.done
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for exit up to d and returns its error; it fails if still running.
func (p *Proc) Wait(d time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// Do runs fn on an OS thread switched into the host's namespace. Sockets created inside
// fn stay in that namespace after it returns, so a listener made here can be served from
// any goroutine.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is not unlocked: it dies with the goroutine rather than going back to
		// the pool in the wrong namespace.
		runtime.LockOSThread()
		target, err := netns.GetFromName(h.NS)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Listen opens a listener inside the host.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := h.Do(func() (err error) { l, err = net.Listen(network, addr); return })
	return l, err
}

// Dial connects from inside the host.
func (h *Host) Dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() (err error) { c, err = net.DialTimeout(network, addr, timeout); return })
	return c, err
}

// ListenPacket opens a packet socket inside the host.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := h.Do(func() (err error) { c, err = net.ListenPacket(network, addr); return })
	return c, err
}

// HasAddr reports whether ifname in the host carries ip (as printed by ip -o addr).
func (h *Host) HasAddr(ifname, ip string) bool {
	out, err := h.Run("ip", "-o", "addr", "show", "dev", ifname)
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(out) {
		if a, _, _ := strings.Cut(f, "/"); a == ip {
			return true
		}
	}
	return false
}

func mustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// SafeBuffer is a bytes.Buffer safe for concurrent writes and reads.
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually polls cond every interval until it holds or timeout passes, then fails the
// test with what. It is the replacement for sleeping in tests.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}
