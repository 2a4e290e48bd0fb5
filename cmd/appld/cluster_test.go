package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/appliance/admin"
	"appl/internal/testbed"
	"appl/replication"
)

// clusterBed is two appliance boxes (a, b), an optional witness (w) and a client host
// (c) holding the backends, on one switch in namespaces; every appld runs the same
// configuration file (its own copy), its node block picked with --node.
type clusterBed struct {
	t       *testing.T
	bed     *testbed.Bed
	dir     string
	hosts   map[string]*testbed.Host
	procs   map[string]*testbed.Proc
	c       *testbed.Host
	cfg     string
	witness bool
}

var clusterIP = map[string]string{"a": "198.18.0.1", "b": "198.18.0.2", "w": "198.18.0.3", "x": "198.18.0.4"}

const (
	clientNet  = "198.18.64.0/20" // sticky clients: any address of it, bound via a local route
	backendsIP = "198.18.0.10"
)

func clusterConfig(dir string, witness bool) string {
	nodes := []string{"a", "b", "x"}
	if witness {
		nodes = append(nodes, "w")
	}
	s := `global
    stats socket ipv4@127.0.0.1:9999 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 0.0.0.0:8080
    use_backend %[src,map_ip(` + filepath.Join(dir, "hosts.map") + `,web)]
backend web
    balance roundrobin
    stick-table type ip size 100k expire 30m
    stick on src
    server s1 ` + backendsIP + `:9001
    server s2 ` + backendsIP + `:9002
backend other
    server s3 ` + backendsIP + `:9003
vrrp vi_1
    interface eth0
    vrid 51
    version 3
    advert-int 100ms
    priority 100
    address 198.18.0.100/24
cluster
`
	for _, n := range nodes {
		s += fmt.Sprintf("node %s\n    cluster-addr %s:7400\n    data-dir %s\n    socket %s\n", n, clusterIP[n],
			filepath.Join(dir, n), filepath.Join(dir, n, "admin.sock"))
		if n == "a" {
			s += "    priority vi_1 150\n"
		}
	}
	return s
}

func newClusterBed(t *testing.T, witness bool) *clusterBed {
	bed := testbed.New(t)
	dir := t.TempDir()
	cb := &clusterBed{t: t, bed: bed, dir: dir, hosts: map[string]*testbed.Host{}, procs: map[string]*testbed.Proc{}, witness: witness}
	cb.cfg = clusterConfig(dir, witness)
	if err := os.WriteFile(filepath.Join(dir, "hosts.map"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sw := bed.Switch("sw")
	cb.c = bed.Host("c")
	bed.Plug(cb.c, sw, "eth0", backendsIP+"/24")
	cb.c.MustRun("ip", "route", "add", "local", clientNet, "dev", "lo")
	names := []string{"a", "b", "x"}
	if witness {
		names = append(names, "w")
	}
	for _, n := range names {
		h := bed.Host(n)
		bed.Plug(h, sw, "eth0", clusterIP[n]+"/24")
		h.MustRun("ip", "route", "add", clientNet, "via", backendsIP)
		cb.hosts[n] = h
		if err := os.MkdirAll(filepath.Join(dir, n), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cb.cfgPath(n), []byte(cb.cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"S1", "S2", "S3"} {
		l, err := cb.c.Listen("tcp4", fmt.Sprintf("%s:%d", backendsIP, 9001+i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go serveName(l, name)
	}
	return cb
}

func serveName(l net.Listener, name string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, name+"\n")
		}()
	}
}

func (cb *clusterBed) cfgPath(n string) string { return filepath.Join(cb.dir, n, "appl.cfg") }
func (cb *clusterBed) sockPath(n string) string {
	return filepath.Join(cb.dir, n, "admin.sock")
}
func (cb *clusterBed) admin(n string) *admin.Client { return admin.NewUnixClient(cb.sockPath(n)) }

var (
	applctlOnce sync.Once
	applctlBin  string
	applctlErr  error
)

// applctl runs the real applctl against node n's admin socket and returns its exit
// code, stdout and stderr.
func (cb *clusterBed) applctl(n string, args ...string) (int, string, string) {
	cb.t.Helper()
	applctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "applctl-test-")
		if err != nil {
			applctlErr = err
			return
		}
		applctlBin = filepath.Join(dir, "applctl")
		if out, err := exec.Command("go", "build", "-o", applctlBin, "../applctl").CombinedOutput(); err != nil {
			applctlErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if applctlErr != nil {
		cb.t.Fatalf("building applctl: %v", applctlErr)
	}
	var o, e bytes.Buffer
	cmd := exec.Command(applctlBin, append([]string{"-s", cb.sockPath(n)}, args...)...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		cb.t.Fatal(err)
	}
	return code, o.String(), e.String()
}

// start runs appld for node n and waits for its admin socket (and, for a box, its
// runtime socket).
func (cb *clusterBed) start(n string) {
	t := cb.t
	t.Helper()
	args := []string{"-no-bootstrap", "-f", cb.cfgPath(n), "--node", n}
	if n == "w" {
		args = append([]string{"--witness"}, args...)
	}
	_ = os.Remove(cb.sockPath(n))
	p := cb.hosts[n].Start(appldBinary(t), args...)
	cb.procs[n] = p
	testbed.Eventually(t, 15*time.Second, 20*time.Millisecond, "appld "+n+" admin socket", func() bool {
		select {
		case <-p.Done():
			t.Fatalf("appld %s exited:\n%s", n, p.Output.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := cb.admin(n).Status(ctx, true)
		return err == nil && st.Local.Ready
	})
}

// kill sends SIGKILL to node n's appld.
func (cb *clusterBed) kill(n string) { cb.procs[n].Kill() }

// rt runs one runtime API command on node n's stats socket.
func (cb *clusterBed) rt(n, cmd string) string {
	cb.t.Helper()
	c, err := cb.hosts[n].Dial("tcp4", "127.0.0.1:9999", 2*time.Second)
	if err != nil {
		cb.t.Fatalf("%s: runtime socket: %v", n, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		cb.t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		cb.t.Fatal(err)
	}
	return string(b)
}

func (cb *clusterBed) status(n string) (replication.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var st replication.Status
	err := cb.admin(n).ClusterStatus(ctx, &st)
	return st, err
}

// form inits the cluster on a and joins the others; it waits until a sees every voter.
func (cb *clusterBed) form(members ...string) {
	t := cb.t
	t.Helper()
	code, out, errOut := cb.applctl("a", "cluster", "init")
	tok := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(tok, "appl-join-v1.") {
		t.Fatalf("applctl cluster init: %d %q %q", code, out, errOut)
	}
	testbed.Eventually(t, 15*time.Second, 50*time.Millisecond, "a leads its one-voter cluster", func() bool {
		st, err := cb.status("a")
		return err == nil && st.Leader == "a"
	})
	for _, m := range members {
		if code, out, errOut := cb.applctl(m, "cluster", "join", clusterIP["a"]+":7400", "--token", tok); code != 0 {
			t.Fatalf("%s: applctl cluster join: %d %q %q", m, code, out, errOut)
		}
	}
	testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, "every member is a reachable voter", func() bool {
		st, err := cb.status("a")
		if err != nil || st.Leader == "" || len(st.Voters) != 1+len(members) {
			return false
		}
		for _, v := range st.Voters {
			if !v.Reachable {
				return false
			}
		}
		return true
	})
}

// connect opens a connection from src to dst:8080 on the client host and returns the
// backend's name.
func (cb *clusterBed) connect(src, dst string) (string, error) {
	var name string
	err := cb.c.Do(func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp4", dst+":8080")
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		b, err := io.ReadAll(io.LimitReader(c, 64))
		name = strings.TrimSpace(string(b))
		if name == "" && err == nil {
			err = fmt.Errorf("no answer from %s via %s", dst, src)
		}
		return err
	})
	return name, err
}

func clientAddr(i int) string { return fmt.Sprintf("198.18.%d.%d", 64+i/250, 1+i%250) }

func tableEntries(out string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " key=") {
			n++
		}
	}
	return n
}

// A pair (and a pair with a witness) of real appld processes: map writes through the
// runtime socket on either box reach the other and route its traffic; sticky clients
// learned on the master keep their server on the standby after the master is killed.
func TestClusterThroughAppld(t *testing.T) {
	for _, witness := range []bool{false, true} {
		t.Run(map[bool]string{false: "pair", true: "trio"}[witness], func(t *testing.T) {
			cb := newClusterBed(t, witness)
			cb.start("a")
			cb.start("b")
			members := []string{"b"}
			if witness {
				cb.start("w")
				members = append(members, "w")
			}
			cb.form(members...)
			mapName := filepath.Join(cb.dir, "hosts.map")

			// A map entry added on b routes a client on a, and the other way round.
			if out := cb.rt("b", "add map "+mapName+" 198.18.70.1 other"); strings.TrimSpace(out) != "" {
				t.Fatalf("add map on b: %q", out)
			}
			if out := cb.rt("a", "add map "+mapName+" 198.18.70.2 other"); strings.TrimSpace(out) != "" {
				t.Fatalf("add map on a: %q", out)
			}
			for _, n := range []string{"a", "b"} {
				testbed.Eventually(t, 5*time.Second, 20*time.Millisecond, n+" shows both map entries", func() bool {
					out := cb.rt(n, "show map "+mapName)
					return strings.Contains(out, "198.18.70.1 other") && strings.Contains(out, "198.18.70.2 other")
				})
				for _, src := range []string{"198.18.70.1", "198.18.70.2"} {
					if got, err := cb.connect(src, clusterIP[n]); err != nil || got != "S3" {
						t.Fatalf("client %s via %s: %q %v (want S3: routed by the replicated map)", src, n, got, err)
					}
				}
			}
			// Same ids on both boxes: the entries are the same entries.
			if a, b := cb.rt("a", "show map "+mapName), cb.rt("b", "show map "+mapName); a != b {
				t.Fatalf("maps differ:\na: %s\nb: %s", a, b)
			}

			// 1,000 sticky clients learn a server on a (the master: it takes the traffic).
			const clients = 1000
			learned := make([]string, clients)
			for i := range clients {
				got, err := cb.connect(clientAddr(i), clusterIP["a"])
				if err != nil {
					t.Fatalf("client %d: %v", i, err)
				}
				learned[i] = got
			}
			testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "b's stick table holds every client", func() bool {
				return tableEntries(cb.rt("b", "show table web")) >= clients
			})
			cb.kill("a")
			moved := 0
			for i := range clients {
				got, err := cb.connect(clientAddr(i), clusterIP["b"])
				if err != nil {
					t.Fatalf("client %d via b after the kill: %v", i, err)
				}
				if got != learned[i] {
					moved++
				}
			}
			if moved > 0 {
				t.Fatalf("%d of %d sticky clients changed server after the master was killed", moved, clients)
			}
			s1 := 0
			for _, l := range learned {
				if l == "S1" {
					s1++
				}
			}
			t.Logf("%d sticky clients (%d on S1, %d on S2) kept their server on b after SIGKILL of a", clients, s1, clients-s1)
			if s1 == 0 || s1 == clients {
				t.Fatalf("round robin gave every client the same server (%d on S1): stickiness not shown", s1)
			}

			if witness {
				// b and the witness keep a quorum: writes go on.
				testbed.Eventually(t, 10*time.Second, 100*time.Millisecond, "b writable without a", func() bool {
					return strings.TrimSpace(cb.rt("b", "add map "+mapName+" 198.18.70.3 other")) == ""
				})
			} else {
				// The survivor of a pair refuses map writes with the no-quorum error...
				testbed.Eventually(t, 10*time.Second, 100*time.Millisecond, "b refuses writes: no quorum", func() bool {
					out := cb.rt("b", "add map "+mapName+" 198.18.70.9 other")
					if strings.HasPrefix(out, "no quorum: ") {
						t.Logf("b alone answers: %s", strings.TrimSpace(out))
						return true
					}
					return false
				})
				alone := filepath.Join(cb.dir, "alone.cfg")
				if err := os.WriteFile(alone, []byte(cb.cfg+"# alone\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if code, _, errOut := cb.applctl("b", "config", "push", alone); code != 1 || !strings.Contains(errOut, "no quorum: ") {
					t.Fatalf("config push without quorum: exit %d %q", code, errOut)
				}
				if _, out, _ := cb.applctl("b", "cluster", "status"); !strings.Contains(out, "quorum NO") {
					t.Fatalf("cluster status alone:\n%s", out)
				}
				// ... until forced single.
				if code, out, errOut := cb.applctl("b", "cluster", "recover", "--force-single"); code != 0 {
					t.Fatalf("applctl cluster recover --force-single: %d %q %q", code, out, errOut)
				}
				testbed.Eventually(t, 10*time.Second, 100*time.Millisecond, "b writable after force-single", func() bool {
					return strings.TrimSpace(cb.rt("b", "add map "+mapName+" 198.18.70.3 other")) == ""
				})
			}
			// a returns with its data dir: it follows b (one leader) and gets the write.
			cb.start("a")
			testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, "a has the write made while it was down", func() bool {
				return strings.Contains(cb.rt("a", "show map "+mapName), "198.18.70.3 other")
			})
			testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, "one leader, both voters", func() bool {
				sa, erra := cb.status("a")
				sb, errb := cb.status("b")
				if erra != nil || errb != nil || sa.Leader == "" || sa.Leader != sb.Leader {
					return false
				}
				leaders := 0
				for _, st := range []replication.Status{sa, sb} {
					if st.State == "Leader" {
						leaders++
					}
				}
				return leaders == 1
			})
			// and writes from a reach b again.
			testbed.Eventually(t, 10*time.Second, 100*time.Millisecond, "a writable", func() bool {
				return strings.TrimSpace(cb.rt("a", "add map "+mapName+" 198.18.70.4 other")) == ""
			})
			testbed.Eventually(t, 5*time.Second, 20*time.Millisecond, "b has a's write", func() bool {
				return strings.Contains(cb.rt("b", "show map "+mapName), "198.18.70.4 other")
			})
		})
	}
}

// config push reloads both boxes (equal hashes in cluster status); an invalid file is
// refused and nothing changes; a node with a wrong token cannot join.
func TestClusterConfigPushAndTokenThroughAppld(t *testing.T) {
	cb := newClusterBed(t, false)
	cb.start("a")
	cb.start("b")
	// Before the cluster exists, a box with a cluster section refuses replicated writes
	// rather than keep them to itself.
	mapName := filepath.Join(cb.dir, "hosts.map")
	if out := cb.rt("a", "add map "+mapName+" 198.18.70.1 other"); !strings.HasPrefix(out, "not in a cluster yet: ") {
		t.Fatalf("write before init: %q", out)
	}
	if _, out, _ := cb.applctl("a", "status"); !strings.Contains(out, "replication not joined") {
		t.Fatalf("applctl status before init:\n%s", out)
	}
	cb.form("b")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Sticky clients learned before the push stay in both tables through the reload.
	for i := range 20 {
		if _, err := cb.connect(clientAddr(i), clusterIP["a"]); err != nil {
			t.Fatal(err)
		}
	}
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "b's table holds the clients", func() bool {
		return tableEntries(cb.rt("b", "show table web")) == 20
	})
	bad := filepath.Join(cb.dir, "bad.cfg")
	if err := os.WriteFile(bad, []byte(strings.Replace(cb.cfg, "balance roundrobin", "balance nonsense", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := cb.status("a")
	if code, _, errOut := cb.applctl("a", "config", "push", bad); code != 1 || !strings.Contains(errOut, "configuration invalid, nothing pushed") || !strings.Contains(errOut, "appl.cfg:12: balance") {
		t.Fatalf("invalid push: exit %d %q", code, errOut)
	}
	if after, _ := cb.status("a"); after.CommitIndex != before.CommitIndex {
		t.Fatalf("an invalid push was committed: index %d -> %d", before.CommitIndex, after.CommitIndex)
	}
	next := strings.Replace(cb.cfg, "backend other\n", "backend other\n    # pushed\n", 1)
	good := filepath.Join(cb.dir, "next.cfg")
	if err := os.WriteFile(good, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cb.applctl("b", "config", "push", good); code != 0 || !strings.Contains(out, "configuration pushed") {
		t.Fatalf("config push: %d %q %q", code, out, errOut)
	}
	sum := sha256.Sum256([]byte(next))
	want := hex.EncodeToString(sum[:])
	testbed.Eventually(t, 10*time.Second, 100*time.Millisecond, "both nodes run the pushed file", func() bool {
		st, err := cb.status("a")
		if err != nil || len(st.Members) != 2 {
			return false
		}
		for _, m := range st.Members {
			if m.ConfigHash != want {
				return false
			}
		}
		return true
	})
	if _, out, _ := cb.applctl("a", "cluster", "status"); !strings.Contains(out, "config: same file on every appliance") {
		t.Fatalf("cluster status after the push:\n%s", out)
	}
	for _, n := range []string{"a", "b"} {
		if got := tableEntries(cb.rt(n, "show table web")); got != 20 {
			t.Fatalf("%s: %d stick entries after the pushed reload, want 20", n, got)
		}
	}
	// and the tables still replicate after it.
	for i := 20; i < 30; i++ {
		if _, err := cb.connect(clientAddr(i), clusterIP["a"]); err != nil {
			t.Fatal(err)
		}
	}
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "b's table gets the clients learned after the reload", func() bool {
		return tableEntries(cb.rt("b", "show table web")) == 30
	})
	// applctl maint on one box is committed and applied on both.
	if code, _, errOut := cb.applctl("a", "maint", "web/s2"); code != 0 {
		t.Fatalf("applctl maint: %d %q", code, errOut)
	}
	for _, n := range []string{"a", "b"} {
		testbed.Eventually(t, 5*time.Second, 20*time.Millisecond, n+" has web/s2 in maintenance", func() bool {
			for _, l := range strings.Split(cb.rt(n, "show servers state web"), "\n") {
				f := strings.Fields(l)
				// admin state column (6th) has the forced-maint bit
				if len(f) > 6 && f[3] == "s2" && f[6] == "1" {
					return true
				}
			}
			return false
		})
	}
	for _, n := range []string{"a", "b"} {
		b, _ := os.ReadFile(cb.cfgPath(n))
		if string(b) != next {
			t.Fatalf("%s: file on disk is not the pushed one", n)
		}
	}

	// Wrong token: the same shape, another key.
	tok, err := cb.admin("a").ClusterToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(tok, '.')
	last := tok[len(tok)-1]
	flip := byte('0')
	if last == '0' {
		flip = '1'
	}
	wrong := tok[:i+1] + tok[i+1:len(tok)-1] + string(flip)
	cb.start("x")
	if err := cb.admin("x").ClusterJoin(ctx, clusterIP["a"]+":7400", wrong); err == nil {
		t.Fatal("a node with a wrong token joined")
	}
	st, err := cb.status("a")
	if err != nil || len(st.Voters) != 2 {
		t.Fatalf("voters after the refused join: %+v %v", st.Voters, err)
	}
	// x holds nothing from the cluster and is not in it.
	if _, err := cb.status("x"); err == nil {
		t.Fatal("x reports a cluster status after a refused join")
	}
	// With the right token x joins; `cluster remove` takes it out again.
	if code, out, errOut := cb.applctl("x", "cluster", "join", clusterIP["a"]+":7400", "--token", tok); code != 0 {
		t.Fatalf("x join: %d %q %q", code, out, errOut)
	}
	voters := func(n int) func() bool {
		return func() bool {
			st, err := cb.status("a")
			return err == nil && len(st.Voters) == n
		}
	}
	testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, "x is a voter", voters(3))
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "x receives web/s2's maintenance and the pushed file", func() bool {
		b, _ := os.ReadFile(cb.cfgPath("x"))
		for _, l := range strings.Split(cb.rt("x", "show servers state web"), "\n") {
			f := strings.Fields(l)
			if len(f) > 6 && f[3] == "s2" && f[6] == "1" {
				return string(b) == next
			}
		}
		return false
	})
	if code, out, errOut := cb.applctl("b", "cluster", "remove", "x"); code != 0 || !strings.Contains(out, "removed x") {
		t.Fatalf("cluster remove x: %d %q %q", code, out, errOut)
	}
	testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, "x removed", voters(2))
}

// rtTry is rt for goroutines: errors are returned, never fatal.
func (cb *clusterBed) rtTry(n, cmd string) (string, error) {
	c, err := cb.hosts[n].Dial("tcp4", "127.0.0.1:9999", 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// oneLeader says whether every node named agrees on one leader that says it leads.
func (cb *clusterBed) oneLeader(nodes ...string) (string, bool) {
	leader, leaders := "", 0
	for _, n := range nodes {
		st, err := cb.status(n)
		if err != nil || st.Leader == "" || (leader != "" && st.Leader != leader) {
			return "", false
		}
		leader = st.Leader
		if st.State == "Leader" {
			leaders++
		}
	}
	return leader, leaders == 1
}

func (cb *clusterBed) vrrpState(n string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := cb.admin(n).Status(ctx, true)
	if err != nil || len(st.Local.VRRP) == 0 {
		return ""
	}
	return st.Local.VRRP[0].State
}

// Raft leadership follows the VRRP master: demoting a hands mastership to b, and the
// Raft leader moves with it; a takes both back when restored.
func TestClusterLeaderFollowsVRRP(t *testing.T) {
	cb := newClusterBed(t, false)
	cb.start("a")
	cb.start("b")
	cb.form("b")
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "a is VRRP master and Raft leader", func() bool {
		l, ok := cb.oneLeader("a", "b")
		return ok && l == "a" && cb.vrrpState("a") == "MASTER" && cb.vrrpState("b") == "BACKUP"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cb.admin("a").Demote(ctx, true); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 30*time.Second, 50*time.Millisecond, "b is VRRP master and Raft leader", func() bool {
		l, ok := cb.oneLeader("a", "b")
		return ok && l == "b" && cb.vrrpState("b") == "MASTER"
	})
	if _, out, _ := cb.applctl("a", "status"); !strings.Contains(out, "replication follower (leader b)") {
		t.Fatalf("applctl status on a:\n%s", out)
	}
	if err := cb.admin("a").Demote(ctx, false); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 30*time.Second, 50*time.Millisecond, "a is VRRP master and Raft leader again", func() bool {
		l, ok := cb.oneLeader("a", "b")
		return ok && l == "a" && cb.vrrpState("a") == "MASTER"
	})
}

// A partition (a's link down) in the trio: a loses leadership and refuses writes, b and
// the witness go on; after the heal there is one leader and every acknowledged map write
// is on both boxes.
func TestClusterPartitionThroughAppld(t *testing.T) {
	cb := newClusterBed(t, true)
	for _, n := range []string{"a", "b", "w"} {
		cb.start(n)
	}
	cb.form("b", "w")
	mapName := filepath.Join(cb.dir, "hosts.map")

	var mu sync.Mutex
	var acked []string
	refused := map[string]int{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		deadline := time.Now().Add(40 * time.Second)
		for i := 0; i < 5000 && time.Now().Before(deadline); i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := []string{"a", "b"}[i%2]
			key := fmt.Sprintf("198.18.%d.%d", 80+i/250, 1+i%250)
			out, err := cb.rtTry(n, "add map "+mapName+" "+key+" other")
			mu.Lock()
			switch {
			case err == nil && out == "\n":
				acked = append(acked, key)
			case err == nil && strings.HasPrefix(out, "no quorum: "):
				refused[n]++
			}
			mu.Unlock()
		}
	}()
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked), refused["a"]
	}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "writes acknowledged before the cut", func() bool {
		n, _ := count()
		return n >= 20
	})
	cb.hosts["a"].MustRun("ip", "link", "set", "eth0", "down")
	testbed.Eventually(t, 20*time.Second, 50*time.Millisecond, "b leads with the witness while a is cut off", func() bool {
		l, ok := cb.oneLeader("b", "w")
		return ok && l != "a"
	})
	testbed.Eventually(t, 20*time.Second, 50*time.Millisecond, "a refuses writes while cut off", func() bool {
		_, r := count()
		return r > 0
	})
	n0, _ := count()
	testbed.Eventually(t, 20*time.Second, 20*time.Millisecond, "b commits while a is cut off", func() bool {
		n, _ := count()
		return n >= n0+20
	})
	cb.hosts["a"].MustRun("ip", "link", "set", "eth0", "up")
	testbed.Eventually(t, 30*time.Second, 100*time.Millisecond, "one leader after the heal", func() bool {
		_, ok := cb.oneLeader("a", "b", "w")
		return ok
	})
	close(stop)
	<-done
	mu.Lock()
	keys := append([]string(nil), acked...)
	ra := refused["a"]
	mu.Unlock()
	for _, n := range []string{"a", "b"} {
		testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, n+" holds every acknowledged write", func() bool {
			out := cb.rt(n, "show map "+mapName)
			for _, k := range keys {
				if !strings.Contains(out, " "+k+" other\n") {
					return false
				}
			}
			return true
		})
	}
	t.Logf("%d map writes acknowledged, %d refused on the cut-off box (no quorum); all %d on both boxes after the heal", len(keys), ra, len(keys))
}

// Random faults on a trio of real processes, for a bounded time: a box or the witness
// killed and restarted with its data, a box cut off by its link, a box wiped and joined
// again with the token. After each: one leader, and every map write acknowledged so far
// (a history kept by a writer alternating between the boxes) is on both boxes.
func TestClusterRandomFaultsThroughAppld(t *testing.T) {
	if testing.Short() {
		t.Skip("random faults: skipped with -short")
	}
	cb := newClusterBed(t, true)
	for _, n := range []string{"a", "b", "w"} {
		cb.start(n)
	}
	cb.form("b", "w")
	code, out, _ := cb.applctl("a", "cluster", "token")
	tok := strings.TrimSpace(out)
	if code != 0 {
		t.Fatal("cluster token")
	}
	mapName := filepath.Join(cb.dir, "hosts.map")

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := []string{"a", "b"}[i%2]
			key := fmt.Sprintf("198.19.%d.%d", i/250, 1+i%250)
			if out, err := cb.rtTry(n, "add map "+mapName+" "+key+" other"); err == nil && out == "\n" {
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
			}
		}
	}()
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	check := func(what string) {
		t.Helper()
		testbed.Eventually(t, 30*time.Second, 100*time.Millisecond, what+": one leader", func() bool {
			_, ok := cb.oneLeader("a", "b", "w")
			return ok
		})
		keys := ackedNow()
		for _, n := range []string{"a", "b"} {
			testbed.Eventually(t, 30*time.Second, 100*time.Millisecond, what+": "+n+" holds every acknowledged write", func() bool {
				out, err := cb.rtTry(n, "show map "+mapName)
				if err != nil {
					return false
				}
				for _, k := range keys {
					if !strings.Contains(out, " "+k+" other\n") {
						return false
					}
				}
				return true
			})
		}
		n0 := len(keys)
		testbed.Eventually(t, 30*time.Second, 50*time.Millisecond, what+": writes go on", func() bool {
			return len(ackedNow()) >= n0+10
		})
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	t.Logf("seed %d", seed)
	deadline := time.Now().Add(90 * time.Second)
	faults := 0
	for ; faults < 6 && time.Now().Before(deadline); faults++ {
		box := []string{"a", "b"}[rng.IntN(2)]
		switch k := rng.IntN(4); k {
		case 0:
			t.Logf("fault %d: SIGKILL %s, restart with its data dir", faults, box)
			cb.kill(box)
			cb.start(box)
		case 1:
			t.Logf("fault %d: %s cut off (link down), then healed", faults, box)
			other := map[string]string{"a": "b", "b": "a"}[box]
			cb.hosts[box].MustRun("ip", "link", "set", "eth0", "down")
			testbed.Eventually(t, 20*time.Second, 50*time.Millisecond, other+" leads with the witness", func() bool {
				l, ok := cb.oneLeader(other, "w")
				return ok && l != box
			})
			cb.hosts[box].MustRun("ip", "link", "set", "eth0", "up")
		case 2:
			t.Logf("fault %d: SIGKILL the witness, restart", faults)
			cb.kill("w")
			cb.start("w")
		case 3:
			t.Logf("fault %d: %s wiped (empty data dir), joined again with the token", faults, box)
			cb.kill(box)
			for _, d := range []string{"cluster", "raft", "snapshots"} {
				if err := os.RemoveAll(filepath.Join(cb.dir, box, d)); err != nil {
					t.Fatal(err)
				}
			}
			cb.start(box)
			other := map[string]string{"a": "b", "b": "a"}[box]
			if code, out, errOut := cb.applctl(box, "cluster", "join", clusterIP[other]+":7400", "--token", tok); code != 0 {
				t.Fatalf("rejoin %s: %d %q %q", box, code, out, errOut)
			}
		}
		check(fmt.Sprintf("after fault %d", faults))
	}
	close(stop)
	<-done
	t.Logf("%d faults, %d map writes acknowledged, all on both boxes after each fault", faults, len(ackedNow()))
}
