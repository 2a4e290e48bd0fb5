package httpmode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCompareWithHAProxy runs wrk against this engine and against haproxy in front of
// the same loopback backend (keep-alive, 2 threads each). Opt-in: it is a measurement,
// not a check (APPL_HTTPMODE_COMPARE=1 go test -run CompareWithHAProxy -v).
func TestCompareWithHAProxy(t *testing.T) {
	if os.Getenv("APPL_HTTPMODE_COMPARE") == "" {
		t.Skip("set APPL_HTTPMODE_COMPARE=1 to measure against haproxy with wrk")
	}
	hap, err1 := exec.LookPath("haproxy")
	wrk, err2 := exec.LookPath("wrk")
	if err1 != nil || err2 != nil {
		t.Skip("haproxy or wrk not installed")
	}
	for _, size := range []int{0, 64 << 10} {
		resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", size, strings.Repeat("x", size))
		be := rawBackend(t, resp)
		cfg := loadConfig(t, oneBackendConfig(be.Addr().String(), "    option forwardfor", ""))
		h := newHarness(t, cfg, "fe", Options{})
		h.env.discard = true

		ln := listenLoopback(t)
		hapAddr := ln.Addr().String()
		ln.Close()
		dir := t.TempDir()
		conf := filepath.Join(dir, "haproxy.cfg")
		writeFile(t, conf, fmt.Sprintf(`global
    nbthread 2
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    option forwardfor
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, hapAddr, be.Addr().String()))
		cmd := exec.Command(hap, "-f", conf, "-db")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		waitFor(t, "haproxy to listen", func() bool {
			out, _ := exec.Command(wrk, "-t1", "-c1", "-d1s", "http://"+hapAddr+"/").CombinedOutput()
			return strings.Contains(string(out), "Requests/sec")
		})
		run := func(addr string) (string, string) {
			out, err := exec.Command(wrk, "-t2", "-c32", "-d5s", "--latency", "http://"+addr+"/").CombinedOutput()
			if err != nil {
				t.Fatalf("wrk: %v\n%s", err, out)
			}
			rps := regexp.MustCompile(`Requests/sec:\s+(\S+)`).FindStringSubmatch(string(out))
			p99 := regexp.MustCompile(`\s99%\s+(\S+)`).FindStringSubmatch(string(out))
			if rps == nil || p99 == nil {
				t.Fatalf("wrk output:\n%s", out)
			}
			return rps[1], p99[1]
		}
		ar, ap := run(h.addr())
		hr, hp := run(hapAddr)
		t.Logf("body %6d B: appl %s req/s p99 %s | haproxy %s req/s p99 %s", size, ar, ap, hr, hp)
	}
}
