package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/net/ipv4"

	"appl/internal/cfgfile"
	"appl/internal/testbed"
)

// TestMain doubles as a standalone speaker: with APPL_VRRP_CHILD=/path/to/config the test
// binary runs RunStandalone instead of the tests, so integration tests get a real
// process to SIGKILL.
func TestMain(m *testing.M) {
	if path := os.Getenv("APPL_VRRP_CHILD"); path != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		log := testLogger(os.Stderr)
		if err := RunStandalone(ctx, path, log, Options{}); err != nil {
			fmt.Fprintln(os.Stderr, "vrrp child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testLogger(w *os.File) *zap.Logger {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	return zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), zapcore.InfoLevel))
}

const vip = "198.18.1.100"

// pairBed is two nodes and a client on one switch (198.18.1.0/24).
type pairBed struct {
	t      *testing.T
	b      *testbed.Bed
	n      [2]*testbed.Host
	client *testbed.Host
	dir    string
}

func newPairBed(t *testing.T) *pairBed {
	b := testbed.New(t)
	sw := b.Switch("sw")
	p := &pairBed{t: t, b: b, dir: t.TempDir()}
	for i := range p.n {
		p.n[i] = b.Host(fmt.Sprintf("n%d", i+1))
		b.Plug(p.n[i], sw, "eth0", fmt.Sprintf("198.18.1.%d/24", i+1))
		responder(t, p.n[i])
	}
	p.client = b.Host("cl")
	b.Plug(p.client, sw, "eth0", "198.18.1.10/24")
	return p
}

// responder answers every UDP datagram on port 7007 with the host's name, so a client
// polling the VIP sees which node serves it. It answers from the address the datagram
// was sent to, the VIP, as a real service does (TCP always does): the node then
// resolves the client with the VIP as source, which is what use-vmac must get right.
func responder(t *testing.T, h *testbed.Host) {
	c, err := h.ListenPacket("udp4", "0.0.0.0:7007")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 64)
		for {
			_, cm, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var reply *ipv4.ControlMessage
			if cm != nil {
				reply = &ipv4.ControlMessage{Src: cm.Dst}
			}
			_, _ = pc.WriteTo([]byte(h.Name), reply, from)
		}
	}()
}

// inproc runs a speaker inside h's namespace in this process.
type inproc struct {
	sp     *Speaker
	cancel context.CancelFunc
	done   chan error
	log    *testbed.SafeBuffer
	once   sync.Once
}

func startInproc(t *testing.T, h *testbed.Host, cfgText string) *inproc {
	t.Helper()
	f, err := cfgfile.Parse(h.Name+".cfg", []byte(cfgText), cfgfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	buf := &testbed.SafeBuffer{}
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(buf), zapcore.InfoLevel)).Named(h.Name)
	sp, err := New(cfg, log, Options{Namespace: h.NS})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &inproc{sp: sp, cancel: cancel, done: make(chan error, 1), log: buf}
	go func() { p.done <- sp.Run(ctx) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("%s speaker log:\n%s", h.Name, buf.String())
		}
	})
	return p
}

// stop cancels the speaker and waits for Run to return (idempotent).
func (p *inproc) stop(t *testing.T) {
	p.once.Do(func() {
		p.cancel()
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("speaker Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("speaker did not stop within 10s")
		}
	})
}

func (p *inproc) state(name string) string {
	for _, st := range p.sp.Status() {
		if st.Name == name {
			return st.State
		}
	}
	return ""
}

// startChild runs a speaker as a separate process (the test binary in child mode).
func (p *pairBed) startChild(h *testbed.Host, cfgText string) *testbed.Proc {
	p.t.Helper()
	path := filepath.Join(p.dir, h.Name+".cfg")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return h.Start("env", "APPL_VRRP_CHILD="+path, os.Args[0])
}

// addrWatch reads a namespace's addresses through netlink (what `ip addr` prints),
// cheaply enough to sample every 10 ms.
type addrWatch struct {
	h    *netlink.Handle
	link netlink.Link
	name string // when set, the link is looked up on every read (it may be recreated)
}

func watchAddrs(t *testing.T, h *testbed.Host, ifname string) *addrWatch {
	t.Helper()
	ns, err := netns.GetFromName(h.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nh.Close)
	link, err := nh.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	return &addrWatch{h: nh, link: link}
}

// watchAddrsByName watches an interface that may not exist yet or may be recreated
// (a vmac): a missing interface holds no address.
func watchAddrsByName(t *testing.T, h *testbed.Host, ifname string) *addrWatch {
	t.Helper()
	ns, err := netns.GetFromName(h.NS)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nh.Close)
	return &addrWatch{h: nh, name: ifname}
}

// has reports whether ip is on the interface, and its remaining valid lifetime (0 forever).
func (w *addrWatch) has(ip string) (bool, int) {
	link := w.link
	if w.name != "" {
		l, err := w.h.LinkByName(w.name)
		if err != nil {
			return false, 0
		}
		link = l
	}
	addrs, err := w.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return false, 0
	}
	for _, a := range addrs {
		if a.IP.String() == ip {
			if a.ValidLft == 0xffffffff || a.ValidLft == -1 {
				return true, 0
			}
			return true, a.ValidLft
		}
	}
	return false, 0
}

// dualSampler samples both nodes' VIP every 10 ms. A sample counts as dual master only
// if node A held the VIP before and after node B was seen holding it, so a clean
// handover between two reads is not mistaken for an overlap.
type dualSampler struct {
	samples, dual atomic.Int64
	stop          chan struct{}
	wg            sync.WaitGroup
	// phase labels what the test is doing; dual samples are also counted by phase.
	phase   atomic.Value
	mu      sync.Mutex
	byPhase map[string]int
}

func (d *dualSampler) setPhase(p string) { d.phase.Store(p) }

func (d *dualSampler) inPhase(p string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byPhase[p]
}

func sampleDual(t *testing.T, a, b *addrWatch, ip string) *dualSampler {
	d := &dualSampler{stop: make(chan struct{}), byPhase: map[string]int{}}
	d.phase.Store("")
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-tk.C:
			}
			a1, _ := a.has(ip)
			b1, _ := b.has(ip)
			a2, _ := a.has(ip)
			d.samples.Add(1)
			if a1 && b1 && a2 {
				d.dual.Add(1)
				ph := d.phase.Load().(string)
				d.mu.Lock()
				d.byPhase[ph]++
				d.mu.Unlock()
				t.Logf("dual-master sample at %s (phase %q)", time.Now().Format("15:04:05.000"), ph)
			}
		}
	}()
	t.Cleanup(d.end)
	return d
}

func (d *dualSampler) end() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	d.wg.Wait()
}

// poller is a client sending a datagram to the VIP every 10 ms and recording who answers.
type poller struct {
	mu      sync.Mutex
	answers []answer
	stop    chan struct{}
	wg      sync.WaitGroup
}

type answer struct {
	at   time.Time
	from string
}

func pollVIP(t *testing.T, client *testbed.Host, ip string) *poller {
	c, err := client.ListenPacket("udp4", "198.18.1.10:0")
	if err != nil {
		t.Fatal(err)
	}
	dst := &net.UDPAddr{IP: net.ParseIP(ip), Port: 7007}
	p := &poller{stop: make(chan struct{})}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 64)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.answers = append(p.answers, answer{time.Now(), string(buf[:n])})
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.wg.Done()
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-p.stop:
				c.Close()
				return
			case <-tk.C:
				_, _ = c.WriteTo([]byte("ping"), dst)
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-p.stop:
		default:
			close(p.stop)
		}
		p.wg.Wait()
	})
	return p
}

// firstFrom returns the first answer from host name after t0.
func (p *poller) firstFrom(name string, t0 time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.answers {
		if a.at.After(t0) && a.from == name {
			return a.at, true
		}
	}
	return time.Time{}, false
}

// waitServed waits until the client gets an answer from name after t0 and returns the
// delay from t0.
func (p *poller) waitServed(t *testing.T, name string, t0 time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	var at time.Time
	testbed.Eventually(t, timeout, 5*time.Millisecond, "client served by "+name, func() bool {
		var ok bool
		at, ok = p.firstFrom(name, t0)
		return ok
	})
	return at.Sub(t0)
}

func vrrpConf(name string, prio int, extra ...string) string {
	return fmt.Sprintf("vrrp %s\n    interface eth0\n    vrid 51\n    priority %d\n    address %s/24\n%s", name, prio, vip,
		indent(extra))
}

func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// figures collects measured numbers; they are printed at the end of the test so they
// appear in `go test -v` output and CI logs.
type figures struct {
	t    *testing.T
	rows []string
}

func (f *figures) add(format string, a ...any) {
	row := fmt.Sprintf(format, a...)
	f.rows = append(f.rows, row)
	f.t.Log(row)
}

func (f *figures) print() {
	fmt.Printf("\n=== %s figures ===\n", f.t.Name())
	for _, r := range f.rows {
		fmt.Println("  " + r)
	}
}
