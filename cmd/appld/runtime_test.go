package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/appliance/admin"
	"appl/internal/testbed"
)

// sock sends one command the way `echo CMD | socat stdio UNIX:path` does.
func sock(t *testing.T, path, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		t.Fatalf("stats socket: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.UnixConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Seed 000's runtime flow on loopback: the map starts empty so connections go to the
// refusing backend; `add map` through the stats socket routes the next connection at once.
// Then the operator commands: show stat, set server state maint, show servers state.
func TestRuntimeAPIThroughAppld(t *testing.T) {
	a1, a2 := echoBackend(t, "A1"), echoBackend(t, "A2")
	front := freePort(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "appl.sock")
	if err := os.WriteFile(filepath.Join(dir, "map"), []byte("# dst -> backend, filled at run time\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `global
    stats socket ` + sockPath + ` mode 600 level admin
    stats timeout 300ms
    stats maxconn 5
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend ft
    bind ` + front + `
    use_backend %[dst,map_ip(./map,not_found)]
backend bk_a
    balance roundrobin
    server s1 ` + a1 + `
    server s2 ` + a2 + `
backend not_found
    tcp-request content reject
    server none 127.0.0.1:1
`
	path := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startLocalAppld(t, path)
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "stats socket", func() bool {
		_, err := os.Stat(sockPath)
		return err == nil
	})
	if st, _ := os.Stat(sockPath); st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", st.Mode().Perm())
	}
	if s, err := ask(front); err == nil && s != "" {
		t.Fatalf("empty map: connection answered %q, want refused", s)
	}
	if out := sock(t, sockPath, "add map ./map 127.0.0.1 bk_a"); strings.TrimSpace(out) != "" {
		t.Fatalf("add map: %q", out)
	}
	if s, err := ask(front); err != nil || (s != "A1" && s != "A2") {
		t.Fatalf("after add map: %q %v", s, err)
	}
	if out := sock(t, sockPath, "show map ./map"); !strings.Contains(out, "127.0.0.1 bk_a") {
		t.Fatalf("show map: %q", out)
	}
	stat := sock(t, sockPath, "show stat")
	if !strings.HasPrefix(stat, "# pxname,svname,qcur,qmax,scur,smax,slim,stot,") || !strings.Contains(stat, "bk_a,s1,") || !strings.Contains(stat, "bk_a,BACKEND,") {
		t.Fatalf("show stat:\n%s", stat)
	}
	if out := sock(t, sockPath, "set server bk_a/s1 state maint"); strings.TrimSpace(out) != "" {
		t.Fatalf("set server: %q", out)
	}
	for i := 0; i < 20; i++ {
		if s, err := ask(front); err != nil || s != "A2" {
			t.Fatalf("s1 in maint but connection %d got %q %v", i, s, err)
		}
	}
	state := sock(t, sockPath, "show servers state bk_a")
	if !strings.Contains(state, "bk_a 1 s1") {
		t.Fatalf("show servers state:\n%s", state)
	}
	if out := sock(t, sockPath, "set server bk_a/nope state ready"); !strings.Contains(out, "No such server") {
		t.Fatalf("unknown server: %q", out)
	}
	if out := sock(t, sockPath, "bogus command"); !strings.Contains(out, "Unknown command") {
		t.Fatalf("unknown command: %q", out)
	}
	if out := sock(t, sockPath, "show info"); !strings.Contains(out, "\nDroppedLogs: 0\n") {
		t.Fatalf("show info has no DroppedLogs: %q", out)
	}
	// The same commands through the admin socket (applctl map/table): the entry added
	// above is deleted, and the next connection goes back to the refusing backend.
	adm := admin.NewUnixClient(filepath.Join(dir, "admin.sock"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := adm.Runtime(ctx, "del map ./map 127.0.0.1"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("del map through the admin API: %q %v", out, err)
	}
	if out, err := adm.Runtime(ctx, "show map ./map"); err != nil || strings.Contains(out, "127.0.0.1") {
		t.Fatalf("show map through the admin API after del: %q %v", out, err)
	}
	if s, err := ask(front); err == nil && s != "" {
		t.Fatalf("map entry deleted through the admin API, connection still answered %q", s)
	}
	// `stats timeout 300ms`: an idle connection is closed long before the 10 s default.
	c, err := net.DialTimeout("unix", sockPath, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle runtime connection: read %d, %v; want EOF from stats timeout", n, err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("idle connection closed after %v, before stats timeout 300ms", d)
	}
}
