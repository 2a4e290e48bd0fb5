package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
)

// freeRange finds n consecutive free loopback ports (a `bind ADDR:P-Q` range).
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(30000)
		var ls []net.Listener
		ok := true
		for i := 0; i < n; i++ {
			l, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// refused reports whether a connection to addr got no answer: refused, reset, or closed
// without a byte.
func refused(addr string) (bool, string) {
	s, err := ask(addr)
	return err != nil && s == "", fmt.Sprintf("%q %v", s, err)
}

func waitSocket(t *testing.T, path string) {
	t.Helper()
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "stats socket", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}

var connCnt = regexp.MustCompile(`key=127\.0\.0\.1 .*conn_cnt=(\d+)`)

func tableConnCnt(t *testing.T, sockPath, table string) int {
	t.Helper()
	out := sock(t, sockPath, "show table "+table)
	m := connCnt.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("show table %s: no entry for 127.0.0.1:\n%s", table, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Seed 000 end to end through appld, on loopback without `transparent`: a port range
// plus one more port, `use_backend %[dst,map_ip(./map,not_found)]`, two stick-table
// backends and the refusing not_found backend with its (empty) whitelist.
func TestSeed000StickTablesThroughAppld(t *testing.T) {
	a1, a2, c1 := echoBackend(t, "A1"), echoBackend(t, "A2"), echoBackend(t, "C1")
	base := freeRange(t, 11)
	extra := freePort(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "appl.sock")
	for _, f := range []string{"map", "white_ip_list"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := func(comment string) string {
		return `# ` + comment + `
global
    stats socket ` + sockPath + ` mode 600 level admin
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend TCP-in
    bind 127.0.0.1:` + strconv.Itoa(base) + `-` + strconv.Itoa(base+10) + `
    bind ` + extra + `
    mode             tcp
    use_backend	%[dst,map_ip(./map,not_found)]

backend ft_group
    stick-table type ip size 1m expire 1h store conn_cnt
    stick on src
    mode    tcp
    server srv1 ` + a1 + `
    server srv2 ` + a2 + `

backend frontend_group
    stick-table type ip size 1m expire 1h store conn_cnt
    stick on src
    mode    tcp
    server srv1 ` + c1 + `

backend not_found
    tcp-request content accept if { src -f ./white_ip_list }
    tcp-request content reject
`
	}
	path := filepath.Join(dir, "ha_cfg.map")
	if err := os.WriteFile(path, []byte(cfg("first")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, out := startLocalAppld(t, path)
	waitSocket(t, sockPath)
	port := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", base+i) }

	// The map is empty: every port refuses (not_found's content reject, an orderly
	// close as haproxy does it).
	for _, a := range []string{port(0), port(5), port(10), extra} {
		if s, err := ask(a); err != io.EOF || s != "" {
			t.Fatalf("empty map: %s answered %q %v, want closed without a byte", a, s, err)
		}
	}
	if got := strings.TrimSpace(sock(t, sockPath, "show table ft_group")); !strings.Contains(got, "# table: ft_group, type: ip, size:1048576, used:0") {
		t.Fatalf("show table before traffic: %q", got)
	}
	// The seed's addmap step: the next connection is routed at once.
	if o := sock(t, sockPath, "add map ./map 127.0.0.1 ft_group"); strings.TrimSpace(o) != "" {
		t.Fatalf("add map: %q", o)
	}
	first, err := ask(port(3))
	if err != nil || (first != "A1" && first != "A2") {
		t.Fatalf("after add map: %q %v", first, err)
	}
	// stick on src: the same client keeps its server on every port, where roundrobin
	// alone would alternate.
	n := 1
	for _, a := range []string{port(0), port(7), port(10), extra, port(1)} {
		if s, err := ask(a); err != nil || s != first {
			t.Fatalf("%s: %q %v, want the sticky server %s", a, s, err, first)
		}
		n++
	}
	if got := tableConnCnt(t, sockPath, "ft_group"); got != n {
		t.Fatalf("show table ft_group: conn_cnt=%d, want %d", got, n)
	}
	tbl := sock(t, sockPath, "show table ft_group")
	if !strings.Contains(tbl, "server_id=") || !strings.Contains(tbl, "server_key=srv") {
		t.Fatalf("show table ft_group lacks the stored server:\n%s", tbl)
	}

	// A reload keeps the table: the client stays on its server and counting goes on.
	before := strings.Count(out.String(), "configuration reloaded")
	if err := os.WriteFile(path, []byte(cfg("second")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "reload", func() bool {
		return strings.Count(out.String(), "configuration reloaded") > before
	})
	for i := 0; i < 4; i++ {
		if s, err := ask(port(i)); err != nil || s != first {
			t.Fatalf("after reload, connection %d: %q %v, want the sticky server %s", i, s, err, first)
		}
		n++
	}
	if got := tableConnCnt(t, sockPath, "ft_group"); got != n {
		t.Fatalf("after reload conn_cnt=%d, want %d (table not kept)", got, n)
	}
	// Steering to the other backend through the map works the same way.
	if o := sock(t, sockPath, "set map ./map 127.0.0.1 frontend_group"); strings.TrimSpace(o) != "" {
		t.Fatalf("set map: %q", o)
	}
	if s, err := ask(extra); err != nil || s != "C1" {
		t.Fatalf("after set map: %q %v", s, err)
	}
	if got := tableConnCnt(t, sockPath, "frontend_group"); got != 1 {
		t.Fatalf("frontend_group conn_cnt=%d, want 1", got)
	}
	// Deleting the entry sends traffic back to not_found, which refuses it.
	if o := sock(t, sockPath, "del map ./map 127.0.0.1"); strings.TrimSpace(o) != "" {
		t.Fatalf("del map: %q", o)
	}
	if ok, got := refused(port(2)); !ok {
		t.Fatalf("after del map: %s", got)
	}
}

// A connection rate limit by source: the first 10 connections in 10s are served, the
// next ones are refused on the wire (tcp-request connection reject: a reset).
func TestRateLimitThroughAppld(t *testing.T) {
	a := echoBackend(t, "A")
	front := freePort(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "appl.sock")
	cfg := `global
    stats socket ` + sockPath + ` mode 600 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend ft
    bind ` + front + `
    stick-table type ip size 100k expire 30s store conn_rate(10s)
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc_conn_rate(0) gt 10 }
    default_backend bk
backend bk
    server s1 ` + a + `
`
	path := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startLocalAppld(t, path)
	waitSocket(t, sockPath)
	start := time.Now()
	for i := 1; i <= 15; i++ {
		s, err := ask(front)
		if i <= 10 && (err != nil || s != "A") {
			t.Fatalf("connection %d: %q %v, want served", i, s, err)
		}
		// A connection-level reject is a reset, as haproxy sends it.
		if i > 10 && (!errors.Is(err, syscall.ECONNRESET) || s != "") {
			t.Fatalf("connection %d: %q %v, want reset", i, s, err)
		}
	}
	if el := time.Since(start); el > 9*time.Second {
		t.Skipf("15 connections took %v: the 10s rate period was not exercised", el)
	}
	if tbl := sock(t, sockPath, "show table ft"); !strings.Contains(tbl, "key=127.0.0.1") || !strings.Contains(tbl, "conn_rate(10000)=15") {
		t.Fatalf("show table ft:\n%s", tbl)
	}
}

// holdBackend answers each connection with its name and keeps it open until the client
// closes it.
func holdBackend(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				_, _ = io.WriteString(c, name+"\n")
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

// open connects and reads the backend's greeting; the connection stays open.
func open(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return c, strings.TrimSpace(line)
}

var sessLine = regexp.MustCompile(`(?m)^(0x[0-9a-f]+): proto=tcpv4 src=(127\.0\.0\.1:\d+) fe=ft be=bk srv=s1 age=\S+ bytes_in=\d+ bytes_out=\d+$`)

// The runtime commands this wiring implements, once each through the socket: show sess,
// shutdown session, disable/enable frontend, set maxconn frontend/global.
func TestRuntimeSessionsAndFrontendsThroughAppld(t *testing.T) {
	h := holdBackend(t, "H")
	front := freePort(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "appl.sock")
	cfg := `global
    stats socket ` + sockPath + ` mode 600 level admin
    maxconn 1000
defaults
    mode tcp
    timeout connect 2s
    timeout client 20s
    timeout server 20s
frontend ft
    bind ` + front + `
    default_backend bk
backend bk
    server s1 ` + h + `
`
	path := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startLocalAppld(t, path)
	waitSocket(t, sockPath)

	// show sess lists an open connection; shutdown session closes it.
	c, g := open(t, front)
	if g != "H" {
		t.Fatalf("greeting %q", g)
	}
	sess := sock(t, sockPath, "show sess")
	m := sessLine.FindStringSubmatch(sess)
	if m == nil || m[2] != c.LocalAddr().String() {
		t.Fatalf("show sess does not list %s:\n%s", c.LocalAddr(), sess)
	}
	if o := sock(t, sockPath, "shutdown session "+m[1]); strings.TrimSpace(o) != "" {
		t.Fatalf("shutdown session: %q", o)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeoutErr(err) {
		t.Fatalf("after shutdown session the connection is still open (%v)", err)
	}
	testbed.Eventually(t, 5*time.Second, 20*time.Millisecond, "session gone from show sess", func() bool {
		return !strings.Contains(sock(t, sockPath, "show sess"), m[1]+":")
	})
	if o := sock(t, sockPath, "shutdown session 0xdeadbeef"); !strings.Contains(o, "No such session") {
		t.Fatalf("unknown session: %q", o)
	}

	// disable frontend: the socket stays but refuses; enable: served again.
	if o := sock(t, sockPath, "disable frontend ft"); strings.TrimSpace(o) != "" {
		t.Fatalf("disable frontend: %q", o)
	}
	if _, err := net.DialTimeout("tcp4", front, 2*time.Second); err == nil {
		t.Fatal("disabled frontend accepted a connection")
	}
	if o := sock(t, sockPath, "disable frontend ft"); !strings.Contains(o, "already disabled") {
		t.Fatalf("second disable: %q", o)
	}
	if o := sock(t, sockPath, "enable frontend ft"); strings.TrimSpace(o) != "" {
		t.Fatalf("enable frontend: %q", o)
	}
	if _, g := open(t, front); g != "H" {
		t.Fatalf("after enable: %q", g)
	}
	if o := sock(t, sockPath, "enable frontend nope"); !strings.Contains(o, "No such frontend") {
		t.Fatalf("unknown frontend: %q", o)
	}

	// set maxconn frontend 2: with two connections open (one from above), a third waits
	// in the backlog until one closes.
	if o := sock(t, sockPath, "set maxconn frontend ft 2"); strings.TrimSpace(o) != "" {
		t.Fatalf("set maxconn frontend: %q", o)
	}
	c2, _ := open(t, front)
	c3, err := net.DialTimeout("tcp4", front, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	_ = c3.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c3.Read(make([]byte, 1)); err == nil || !isTimeoutErr(err) {
		t.Fatalf("third connection over maxconn 2 was served (%v)", err)
	}
	c2.Close()
	_ = c3.SetReadDeadline(time.Now().Add(3 * time.Second))
	if line, err := bufio.NewReader(c3).ReadString('\n'); err != nil || line != "H\n" {
		t.Fatalf("queued connection after a slot freed: %q %v", line, err)
	}

	// set maxconn global shows in show info.
	if o := sock(t, sockPath, "set maxconn global 7"); strings.TrimSpace(o) != "" {
		t.Fatalf("set maxconn global: %q", o)
	}
	if info := sock(t, sockPath, "show info"); !strings.Contains(info, "Maxconn: 7\n") {
		t.Fatalf("show info after set maxconn global 7:\n%s", info)
	}
	if o := sock(t, sockPath, "set maxconn global x"); !strings.Contains(o, "integer") {
		t.Fatalf("bad maxconn: %q", o)
	}
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
