package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/appliance/admin"
	"appl/internal/testbed"
)

const (
	vip      = "198.18.0.100"
	vipPort  = "8080"
	n1Addr   = "198.18.0.1"
	n2Addr   = "198.18.0.2"
	clAddr   = "198.18.0.10"
	b1Addr   = "198.18.0.21"
	b2Addr   = "198.18.0.22"
	truthMax = 2 * time.Second // applctl status must tell the truth within this of a change
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds appld and applctl once per run into a directory others can read, so
// applctl also runs as an unprivileged user.
func binaries(t *testing.T) (appld, applctl string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "appl-e2e-bin-")
		if buildErr != nil {
			return
		}
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
		}
		for _, p := range []string{"appld", "applctl"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, p), "appl/cmd/"+p).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "appld"), filepath.Join(binDir, "applctl")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

const pairConfig = `defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 0.0.0.0:8080
    default_backend bk
backend bk
    balance roundrobin
    server b1 198.18.0.21:80 check inter 100ms fall 2 rise 2
    server b2 198.18.0.22:80 check inter 100ms fall 2 rise 2
vrrp vi_1
    interface eth0
    vrid 51
    version 3
    advert-int 100ms
    priority 100
    address 198.18.0.100/24
    track-check web
admin
    token-file token
    check web backend bk min-up 1
node n1
    priority vi_1 150
    admin-addr 198.18.0.1:9443
    data-dir n1-data
node n2
    admin-addr 198.18.0.2:9443
    data-dir n2-data
`

type pair struct {
	t        *testing.T
	dir      string
	cfg      string
	applctl  string
	appld    string
	n1, n2   *testbed.Host
	cl       *testbed.Host
	p1, p2   *testbed.Proc
	s1, s2   string // admin sockets
	backends []net.Listener
}

func newPair(t *testing.T) *pair {
	appld, applctl := binaries(t)
	bed := testbed.New(t)
	sw := bed.Switch("sw")
	p := &pair{t: t, appld: appld, applctl: applctl}
	p.n1, p.n2, p.cl = bed.Host("n1"), bed.Host("n2"), bed.Host("cl")
	b1, b2 := bed.Host("b1"), bed.Host("b2")
	bed.Plug(p.n1, sw, "eth0", n1Addr+"/24")
	bed.Plug(p.n2, sw, "eth0", n2Addr+"/24")
	bed.Plug(p.cl, sw, "eth0", clAddr+"/24")
	bed.Plug(b1, sw, "eth0", b1Addr+"/24")
	bed.Plug(b2, sw, "eth0", b2Addr+"/24")
	for _, b := range []struct {
		h    *testbed.Host
		addr string
	}{{b1, b1Addr}, {b2, b2Addr}} {
		l, err := b.h.Listen("tcp4", b.addr+":80")
		if err != nil {
			t.Fatal(err)
		}
		name := b.h.Name
		go func() {
			_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "hello from %s\n", name)
			}))
		}()
		p.backends = append(p.backends, l)
		t.Cleanup(func() { l.Close() })
	}
	// A directory others may traverse, so the unprivileged applctl meets the socket's
	// own 0600 mode rather than a closed directory.
	dir, err := os.MkdirTemp("", "appl-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	p.cfg = filepath.Join(dir, "appl.cfg")
	p.s1, p.s2 = filepath.Join(dir, "n1.sock"), filepath.Join(dir, "n2.sock")
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("e2e-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.writeConfig(pairConfig)
	return p
}

func (p *pair) writeConfig(s string) {
	if err := os.WriteFile(p.cfg, []byte(s), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pair) start(h *testbed.Host, node, sock string) *testbed.Proc {
	p.t.Helper()
	pr := h.Start(p.appld, "-f", p.cfg, "--node", node, "--admin-socket", sock, "--no-bootstrap")
	testbed.Eventually(p.t, 10*time.Second, 20*time.Millisecond, node+" admin socket answers", func() bool {
		select {
		case <-pr.Done():
			p.t.Fatalf("appld %s exited:\n%s", node, pr.Output.String())
		default:
		}
		_, err := p.status(sock)
		return err == nil
	})
	return pr
}

// applctlRun runs the real applctl binary and returns its exit code and output.
func (p *pair) applctlRun(args ...string) (int, string, string) {
	cmd := exec.Command(p.applctl, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("applctl: %v", err)
	}
	return code, o.String(), e.String()
}

// status is `applctl -s SOCK status --json`, decoded.
func (p *pair) status(sock string) (admin.ClusterStatus, error) {
	var st admin.ClusterStatus
	code, out, errOut := p.applctlRun("-s", sock, "status", "--json")
	if code != 0 {
		return st, fmt.Errorf("applctl status exit %d: %s", code, errOut)
	}
	err := json.Unmarshal([]byte(out), &st)
	return st, err
}

func state(n *admin.NodeStatus) string {
	if n == nil || len(n.VRRP) == 0 {
		return ""
	}
	return n.VRRP[0].State
}

// truth waits until applctl status on sock satisfies ok, and fails the test when that
// took longer than truthMax after since (the moment the change was observed).
func (p *pair) truth(what, sock string, since time.Time, ok func(admin.ClusterStatus) bool) {
	p.t.Helper()
	var last admin.ClusterStatus
	var lastErr error
	deadline := since.Add(truthMax + 3*time.Second)
	for {
		st, err := p.status(sock)
		last, lastErr = st, err
		if err == nil && ok(st) {
			if d := time.Since(since); d > truthMax {
				p.t.Errorf("%s: applctl status told the truth only %v after the change (limit %v)", what, d.Round(time.Millisecond), truthMax)
			}
			return
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(last, "", "  ")
			p.t.Fatalf("%s: applctl status never told the truth (err %v), last:\n%s", what, lastErr, b)
		}
		time.Sleep(20 * time.Millisecond) // polling period of a bounded wait
	}
}

// hasVIP is the ground truth, read from the kernel of the node.
func hasVIP(h *testbed.Host) bool { return h.HasAddr("eth0", vip) }

// request is one HTTP-over-TCP exchange of the client.
type request struct {
	start, end time.Time
	ok         bool
	err        string
}

// client runs a bounded stream of HTTP requests through the VIP, one TCP connection
// each, from the client's namespace.
type client struct {
	mu   sync.Mutex
	reqs []request
	stop chan struct{}
	done chan error
}

func startClient(t *testing.T, h *testbed.Host) *client {
	c := &client{stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		c.done <- h.Do(func() error {
			tick := time.NewTicker(5 * time.Millisecond) // pacing of the load, not a wait
			defer tick.Stop()
			deadline := time.Now().Add(3 * time.Minute)
			for i := 0; i < 30000 && time.Now().Before(deadline); i++ {
				select {
				case <-c.stop:
					return nil
				case <-tick.C:
				}
				r := request{start: time.Now()}
				err := get(vip + ":" + vipPort)
				r.end, r.ok = time.Now(), err == nil
				if err != nil {
					r.err = err.Error()
				}
				c.mu.Lock()
				c.reqs = append(c.reqs, r)
				c.mu.Unlock()
			}
			return nil
		})
	}()
	t.Cleanup(c.end)
	return c
}

func (c *client) end() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	c.done <- nil
}

func get(addr string) error {
	conn, err := net.DialTimeout("tcp4", addr, 300*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "hello from b") {
		return fmt.Errorf("answer %d %q", resp.StatusCode, b)
	}
	return nil
}

func (c *client) snapshot() []request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]request(nil), c.reqs...)
}

// okSince counts successful requests opened after t.
func (c *client) okSince(t time.Time) int {
	n := 0
	for _, r := range c.snapshot() {
		if r.ok && r.start.After(t) {
			n++
		}
	}
	return n
}

// window reports, for requests opened in [from, to): the longest time between two
// successful completions, failures, and failures opened after takeover.
func (c *client) window(from, to, takeover time.Time) (gap time.Duration, total, failed, failedAfter int, firstErr string) {
	var last time.Time
	for _, r := range c.snapshot() {
		if r.start.Before(from) || !r.start.Before(to) {
			continue
		}
		total++
		if !r.ok {
			failed++
			if r.start.After(takeover) {
				failedAfter++
				if firstErr == "" {
					firstErr = r.err
				}
			}
			continue
		}
		if last.IsZero() {
			last = from
		}
		if d := r.end.Sub(last); d > gap {
			gap = d
		}
		last = r.end
	}
	return
}

func (p *pair) waitClientServed(c *client, since time.Time, n int, what string) {
	p.t.Helper()
	testbed.Eventually(p.t, 10*time.Second, 10*time.Millisecond, what, func() bool { return c.okSince(since) >= n })
}
