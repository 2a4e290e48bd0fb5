package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
)

// The global section's process settings through a real appld: pidfile written
// once serving and removed on SIGTERM, ulimit-n applied as given, the stats
// socket owned by its `user`/`group` (root only: chown needs it).
func TestGlobalProcessSettings(t *testing.T) {
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "rt.sock")
	pidPath := filepath.Join(dir, "appld.pid")
	owner := ""
	if os.Geteuid() == 0 {
		owner = " user nobody group nogroup"
	} else {
		t.Log("not root: the stats socket's user/group are not checked (chown needs root)")
	}
	cfg := `global
    pidfile ` + pidPath + `
    ulimit-n 4321
    stats socket ` + sockPath + ` mode 660 level admin` + owner + `
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend ft
    bind ` + freePort(t) + `
    default_backend b
backend b
    server s1 127.0.0.1:1
`
	path := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, _ := startLocalAppld(t, path)
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "pidfile and stats socket", func() bool {
		_, e1 := os.Stat(pidPath)
		_, e2 := os.Stat(sockPath)
		return e1 == nil && e2 == nil
	})
	b, err := os.ReadFile(pidPath)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("pidfile holds %q (%v), want %d", b, err, cmd.Process.Pid)
	}
	limits, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	var soft string
	for _, l := range strings.Split(string(limits), "\n") {
		if strings.HasPrefix(l, "Max open files") {
			soft = strings.Fields(strings.TrimPrefix(l, "Max open files"))[0]
		}
	}
	if soft != "4321" {
		t.Fatalf("ulimit-n 4321: appld's soft nofile limit is %q", soft)
	}
	st, err := os.Stat(sockPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, want 0660", st.Mode().Perm())
	}
	if owner != "" {
		sys := st.Sys().(*syscall.Stat_t)
		if sys.Uid != 65534 || sys.Gid != 65534 {
			t.Fatalf("socket owned by %d:%d, want nobody:nogroup (65534:65534)", sys.Uid, sys.Gid)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "pidfile removed on SIGTERM", func() bool {
		_, err := os.Stat(pidPath)
		return os.IsNotExist(err)
	})
}
