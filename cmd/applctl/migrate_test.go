package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateKeepalived(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("ok.conf", "vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1/24\n }\n}\nvirtual_server 10.0.0.1 80 {\n}\n")
	code, out, errOut := runCLI("migrate", "keepalived", good)
	if code != 0 || !strings.Contains(out, "vrrp VI_1\n") || !strings.Contains(out, "    address 10.0.0.1/24\n") ||
		!strings.Contains(errOut, "1 item(s) not migrated") || !strings.Contains(errOut, "line 9: virtual_server 10.0.0.1 80") {
		t.Fatalf("good file: %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "not migrated") && strings.Contains(errOut, "vrrp VI_1") {
		t.Fatalf("stdout and stderr mixed")
	}
	bad := write("bad.conf", "vrrp_instance VI_1 {\n interface eth0\n")
	if code, _, errOut := runCLI("migrate", "keepalived", bad); code != 1 || !strings.Contains(errOut, "not closed") {
		t.Fatalf("unbalanced braces: %d %q", code, errOut)
	}
	if code, _, errOut := runCLI("migrate", "keepalived", filepath.Join(dir, "missing.conf")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing file: %d %q", code, errOut)
	}
	// Translated but refused by appl's decoder: mixed families in one instance.
	mixed := write("mixed.conf", "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n  fd00::1\n }\n}\n")
	if code, out, errOut := runCLI("migrate", "keepalived", mixed); code != 1 || !strings.Contains(out, "vrrp V") || !strings.Contains(errOut, "mixes IPv4 and IPv6") {
		t.Fatalf("mixed families: %d %q %q", code, out, errOut)
	}
	if code, _, _ := runCLI("migrate", "haproxy", good); code != 2 {
		t.Fatalf("unknown source: %d", code)
	}
}
