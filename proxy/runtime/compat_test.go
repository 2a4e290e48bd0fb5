package runtime

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSameAnswersAsHAProxy runs the same command lines against a real
// haproxy (when installed) and against appl's runtime API over the same
// map and ACL files, and requires byte-identical answers. Entry pointers
// (0x...) are masked: HAProxy prints memory addresses.
func TestSameAnswersAsHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed: skipping the side-by-side comparison")
	}
	s := startSockets(t)
	M, L := s.ft.mapPath(), s.ft.aclPath()

	dir := t.TempDir()
	sock := filepath.Join(dir, "haproxy.sock")
	port := freePort(t)
	cfg := fmt.Sprintf(`global
  stats socket %s mode 600 level admin
  maxconn 1000
defaults
  mode tcp
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:%d
  tcp-request content accept if { src -f %s }
  use_backend %%[dst,map_ip(%s,be1)]
backend be1
  stick-table type ip size 100 expire 30m store conn_cnt,conn_rate(10s),server_id
  stick on src
  server s1 127.0.0.1:47101 weight 10
  server s2 127.0.0.1:47102 weight 20 backup
backend be2
  server s3 127.0.0.1:47103
`, sock, port, L, M)
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("haproxy's stats socket did not come up")
		}
		time.Sleep(20 * time.Millisecond) // polling for the socket with a deadline
	}

	ptr := regexp.MustCompile(`0x[0-9a-f]+`)
	lines := []string{
		"show cli level", "show cli level;show cli level", "operator;show cli level;user;show cli level",
		"get weight be1/s1", "get weight be1/zz", "get weight nope/s1", "get weight",
		"show servers state nope",
		"set server", "set server be1", "set server be1/zz state ready", "set server nope/s1 state ready",
		"set server be1/s1 state", "set server be1/s1 state bogus", "set server be1/s1 weight",
		"set server be1/s1 weight 300", "set server be1/s1 weight -1",
		"set server be1/s1 state drain", "set server be1/s1 state ready",
		"set server be1/s1 weight 5;get weight be1/s1", "set server be1/s2 weight 50%;get weight be1/s2",
		"set weight be1/s1 7;get weight be1/s1",
		"enable server", "enable server be1", "enable server be1/zz", "disable server nope/s1",
		"disable server be1/s1;enable server be1/s1",
		"enable frontend", "enable frontend nope", "disable frontend fe", "disable frontend fe",
		"enable frontend fe", "enable frontend fe",
		"set maxconn frontend", "set maxconn frontend nope 1", "set maxconn frontend fe", "set maxconn frontend fe -3",
		"set maxconn frontend fe 50", "set maxconn global", "set maxconn global 99999999", "set maxconn global 500",
		"shutdown session", "shutdown session abc", "shutdown session 0x1234", "show sess 0x1234",
		"show table nope", "show table be1 junk", "show table be1 data.gpc0 gt 1", "show table be1 data.conn_cnt zz 1",
		"clear table", "clear table nope", "clear table be1 junk", "set table", "set table nope key 1",
		"set table be1 key 1.1.1.1 data.conn_cnt", "set table be1 key 1.1.1.1 data.nope 1",
		"show map " + M, "show acl " + L, "show map nope", "show acl nope",
		"get map " + M + " 10.2.3.4", "get map " + M + " 1.1.1.1", "get map", "get map " + M,
		"get acl " + L + " 10.1.2.3", "get acl " + L + " 8.8.8.8",
		"add map " + M, "add map " + M + " k", "add map nope k v",
		"add map " + M + " 1.2.3.4 be2", "set map " + M + " 1.2.3.4 be1", "set map " + M + " 9.9.9.9 be1",
		"set map " + M, "set map " + M + " k", "show map " + M, "get map " + M + " 1.2.3.4",
		"del map " + M + " 1.2.3.4", "del map " + M + " 1.2.3.4", "del map " + M, "del map " + M + " #0xdead",
		"clear map", "clear map nope",
		"add acl " + L, "add acl " + L + " 5.5.5.5", "show acl " + L, "del acl " + L + " 5.5.5.5",
		"del acl " + L + " 5.5.5.5", "del acl " + L,
		`get map ` + M + ` 1.2\;3`,
		"clear map " + M + ";show map " + M, "clear acl " + L + ";show acl " + L,
		"add map " + M + " 10.0.0.0/8 be2;get map " + M + " 10.9.9.9",
	}
	for _, line := range lines {
		want := socat(t, sock, line)
		got := s.admin(t, line)
		if ptr.ReplaceAllString(got, "0x") != ptr.ReplaceAllString(want, "0x") {
			t.Errorf("%q:\nappl:    %q\nhaproxy: %q", line, got, want)
		}
	}

	// prompt mode transcripts
	for _, in := range []string{"prompt\nshow cli level\nget weight be1/s3\nquit\n", "prompt;show cli level\nprompt;get weight be1/s3;show cli level\n"} {
		want := transcript(t, sock, in)
		got := transcript(t, s.path[LevelAdmin], in)
		if got != want {
			t.Errorf("prompt %q:\nappl:    %q\nhaproxy: %q", in, got, want)
		}
	}
}

// transcript sends in (all at once, keeping the connection open) and reads
// until the server closes.
func transcript(t *testing.T, path, in string) string {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte(in))
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealSocat drives the sockets with the socat binary itself, as
// operators' scripts do (`echo CMD | socat stdio SOCKET`).
func TestRealSocat(t *testing.T) {
	bin, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat not installed")
	}
	s := startSockets(t)
	run := func(addr, in string) string {
		cmd := exec.Command(bin, "stdio", addr)
		cmd.Stdin = strings.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("socat %s: %v", addr, err)
		}
		return string(out)
	}
	if got := run(s.path[LevelAdmin], "set server be1/s1 state drain;get weight be1/s1\n"); got != "\n10 (initial 10)\n\n" {
		t.Fatalf("unix: %q", got)
	}
	if got := run("unix-connect:"+s.path[LevelUser], "set server be1/s1 state ready\n"); got != "Permission denied\n\n" {
		t.Fatalf("user level: %q", got)
	}
	if got := run(s.path[LevelAdmin], "show servers state be1\n"); !strings.Contains(got, "\n3 be1 1 s1 127.0.0.1 2 8 10 10 ") {
		t.Fatalf("state after drain: %q", got)
	}

	l, err := Listen("ipv4@127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.Serve(l, LevelOperator)
	if got := run("tcp4-connect:"+l.Addr().String(), "show cli level\n"); got != "operator\n\n" {
		t.Fatalf("tcp: %q", got)
	}
}
