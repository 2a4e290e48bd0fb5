package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appl/appliance/admin"
	"appl/internal/testbed"
	"appl/replication"
)

// Loopback benchmarks of a replicated pair of real appld processes (each its own file:
// two processes on one host cannot share ports).

type loopNode struct {
	dir, stats, admin, front, cluster string
	pid                               int
}

// cpuTime is the process's user+system CPU time (Linux /proc; 0 elsewhere).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func nameBackend(tb testing.TB, name string) string {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go serveName(l, name)
	return l.Addr().String()
}

func startLoopNode(tb testing.TB, name, mapFile string, backends []string) loopNode {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	n := loopNode{dir: dir, stats: filepath.Join(dir, "stats.sock"), admin: filepath.Join(dir, "admin.sock"), front: freeAddr(tb), cluster: freeAddr(tb)}
	cfg := `global
    stats socket ` + n.stats + ` level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind ` + n.front + `
    use_backend %[src,map_ip(` + mapFile + `,web)]
backend web
    balance roundrobin
    stick-table type ip size 1m expire 30m
    stick on src
    server s1 ` + backends[0] + `
    server s2 ` + backends[1] + `
backend other
    server s1 ` + backends[0] + `
cluster
    gossip ` + freeAddr(tb) + `
    data-dir ` + dir + `
node ` + name + `
    cluster-addr ` + n.cluster + `
`
	path := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	out := &testbed.SafeBuffer{}
	cmd := exec.Command(appldBinary(tb), "-f", path, "--admin-socket", n.admin, "--node", name)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	n.pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if tb.Failed() {
			tb.Logf("%s output:\n%s", name, out.String())
		}
	})
	testbed.Eventually(tb, 15*time.Second, 20*time.Millisecond, name+" up", func() bool {
		c, err := net.Dial("unix", n.stats)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return n
}

func loopRT(n loopNode, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", n.stats, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	_ = c.(*net.UnixConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

func formLoopPair(tb testing.TB, a, b loopNode) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ca, cb := admin.NewUnixClient(a.admin), admin.NewUnixClient(b.admin)
	tok, err := ca.ClusterInit(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if err := cb.ClusterJoin(ctx, a.cluster, tok); err != nil {
		tb.Fatal(err)
	}
	testbed.Eventually(tb, 20*time.Second, 50*time.Millisecond, "pair formed", func() bool {
		var st replication.Status
		if err := ca.ClusterStatus(ctx, &st); err != nil || st.State != "Leader" || len(st.Voters) != 2 {
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

// benchMapFile is the map both nodes load: replicated maps are named by their path,
// the same on both boxes.
func benchMapFile(tb testing.TB) string {
	p := filepath.Join(tb.TempDir(), "hosts.map")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkClusterMapWriteAck: `add map` through the runtime socket of a pair's leader
// (and of its follower, which forwards), each acknowledged once committed and applied.
func BenchmarkClusterMapWriteAck(b *testing.B) {
	mf := benchMapFile(b)
	b1, b2 := nameBackend(b, "S1"), nameBackend(b, "S2")
	na, nb := startLoopNode(b, "lba", mf, []string{b1, b2}), startLoopNode(b, "lbb", mf, []string{b1, b2})
	formLoopPair(b, na, nb)
	for _, side := range []struct {
		name string
		n    loopNode
	}{{"leader", na}, {"follower", nb}} {
		b.Run(side.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				out, err := loopRT(side.n, fmt.Sprintf("add map "+mf+" 10.%d.%d.%d other", i>>16&255, i>>8&255, i&255))
				if err != nil || strings.TrimSpace(out) != "" {
					b.Fatalf("write %d: %q %v", i, out, err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkClusterProxyConns: short connections through appld, each from its own client
// address (a new stick entry each, so every one is a replicated update), with
// replication off (cluster section, not joined) and on (pair formed).
func BenchmarkClusterProxyConns(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "replication-off", true: "replication-on"}[on], func(b *testing.B) {
			mf := benchMapFile(b)
			b1, b2 := nameBackend(b, "S1"), nameBackend(b, "S2")
			// Both runs have the second process (on one host it shares the CPUs);
			// only "on" forms the pair.
			na := startLoopNode(b, "lba", mf, []string{b1, b2})
			nb := startLoopNode(b, "lbb", mf, []string{b1, b2})
			if on {
				formLoopPair(b, na, nb)
			}
			const workers = 8
			var next atomic.Int64
			var failed atomic.Int64
			cpuA, cpuB := cpuTime(na.pid), cpuTime(nb.pid)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						src := &net.TCPAddr{IP: net.IPv4(127, 1+byte(i>>16&63), byte(i>>8), byte(i))}
						d := net.Dialer{LocalAddr: src, Timeout: 2 * time.Second}
						c, err := d.Dial("tcp4", na.front)
						if err != nil {
							failed.Add(1)
							continue
						}
						_ = c.SetDeadline(time.Now().Add(3 * time.Second))
						if bb, _ := io.ReadAll(c); len(bb) == 0 {
							failed.Add(1)
						}
						c.Close()
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if f := failed.Load(); f > int64(b.N)/100 {
				b.Fatalf("%d of %d connections failed", f, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
			// CPU per connection of the box taking the traffic, and of its peer: on a
			// shared host the peer's work competes for the same cores.
			b.ReportMetric(float64((cpuTime(na.pid)-cpuA).Microseconds())/float64(b.N), "master-cpu-us/conn")
			b.ReportMetric(float64((cpuTime(nb.pid)-cpuB).Microseconds())/float64(b.N), "peer-cpu-us/conn")
		})
	}
}
