package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsageAndNotYet(t *testing.T) {
	if code, out, _ := runCLI(); code != 0 || !strings.Contains(out, "exit codes:") {
		t.Fatalf("usage: %d %q", code, out)
	}
	if code, _, errOut := runCLI("bogus"); code != 2 || !strings.Contains(errOut, `unknown command "bogus"`) {
		t.Fatalf("unknown: %d %q", code, errOut)
	}
	if code, out, _ := runCLI(); strings.Contains(out, "not available yet") || !strings.Contains(out, "migrate keepalived FILE") {
		t.Fatalf("usage still lists migrate as not available: %d %q", code, out)
	}
	if code, _, errOut := runCLI("migrate"); code != 2 || !strings.Contains(errOut, "usage: applctl migrate keepalived FILE") {
		t.Fatalf("migrate without arguments: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI("map"); code != 2 || !strings.Contains(errOut, "usage: applctl map") {
		t.Fatalf("map without arguments: %d %q", code, errOut)
	}
	if code, _, _ := runCLI("-s", "/nonexistent", "maint", "no-slash"); code != 2 {
		t.Fatalf("maint without BACKEND/SERVER: %d", code)
	}
}

// The daemon not running: no socket, or a stale socket nobody listens on: exit 3.
func TestNotRunningMessages(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	code, _, errOut := runCLI("-s", missing, "status")
	if code != 3 || !strings.Contains(errOut, "appld is not running: no admin socket at "+missing) {
		t.Fatalf("missing socket: %d %q", code, errOut)
	}
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(stale); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI("status", "-s", stale)
	if code != 3 || !strings.Contains(errOut, "nothing listens on "+stale) {
		t.Fatalf("stale socket: %d %q", code, errOut)
	}
}

func TestConfigCheckListsNodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.cfg")
	src := "listen l\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\nnode lb1\nnode lb2\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("config", "check", path)
	if code != 0 || !strings.Contains(out, "node blocks: lb1, lb2") || !strings.Contains(out, "Configuration file is valid") {
		t.Fatalf("%d %q %q", code, out, errOut)
	}
}

func TestClusterUsageAndNotRunning(t *testing.T) {
	if code, _, errOut := runCLI("cluster"); code != 2 || !strings.Contains(errOut, "join ADDR --token T") {
		t.Fatalf("cluster: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI("cluster", "recover"); code != 2 || !strings.Contains(errOut, "--force-single") {
		t.Fatalf("recover without --force-single: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI("-s", "/nonexistent/x.sock", "cluster", "join", "198.18.0.1:7400"); code != 2 || !strings.Contains(errOut, "--token T is required") {
		t.Fatalf("join without token: %d %q", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "missing.sock")
	for _, args := range [][]string{{"cluster", "status"}, {"cluster", "init"}, {"cluster", "join", "198.18.0.1:7400", "--token", "t"}} {
		code, _, errOut := runCLI(append([]string{"-s", missing}, args...)...)
		if code != 3 || !strings.Contains(errOut, "appld is not running") {
			t.Fatalf("%v: %d %q", args, code, errOut)
		}
	}
	if code, _, errOut := runCLI("config", "push"); code != 2 || !strings.Contains(errOut, "usage: applctl config push FILE") {
		t.Fatalf("config push: %d %q", code, errOut)
	}
}
