package appliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pairCfg = `defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:8080
    server s1 127.0.0.1:8081 check
vrrp vi_1
    interface eth0
    vrid 51
    priority 100
    address 198.18.0.100/24
    track-check web-up
vrrp vi_2
    interface eth0
    vrid 52
    address 198.18.0.101/24
admin
    socket /run/appl/admin.sock
    token 0123456789abcdef0123
    check web-up backend web min-up 1
node lb1
    hostname lb1.example.net
    priority vi_1 150
    admin-addr 198.18.0.1:9443
node lb2
    priority vi_2 150
    admin-addr 198.18.0.2:9443
    socket /run/appl/lb2.sock
`

func decode(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Decode("pair.cfg", []byte(src))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return c
}

func TestSelectByHostnameAndName(t *testing.T) {
	c := decode(t, pairCfg)
	if len(c.Nodes) != 2 || c.Admin.Token == "" || len(c.Admin.Checks) != 1 || c.Admin.Checks[0].MinUp != 1 {
		t.Fatalf("decoded %+v", c.Admin)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "0123456789abcdef0123") {
			t.Fatalf("a warning shows the token: %s", w)
		}
	}
	// lb1 by its `hostname` line (short or full name).
	if err := c.Select("", "lb1"); err != nil {
		t.Fatal(err)
	}
	if c.NodeName() != "lb1" || c.VRRP.Instances[0].Priority != 150 || c.VRRP.Instances[1].Priority != 100 {
		t.Fatalf("lb1: node %s priorities %d %d", c.NodeName(), c.VRRP.Instances[0].Priority, c.VRRP.Instances[1].Priority)
	}
	if c.Admin.Bind != "198.18.0.1:9443" || c.Admin.Peer != "198.18.0.2:9443" || c.Admin.Socket != "/run/appl/admin.sock" {
		t.Fatalf("lb1 admin %+v", c.Admin)
	}
	// lb2 by its block name matching the hostname's first label.
	c = decode(t, pairCfg)
	if err := c.Select("", "lb2.example.net"); err != nil {
		t.Fatal(err)
	}
	if c.VRRP.Instances[0].Priority != 100 || c.VRRP.Instances[1].Priority != 150 || c.Admin.Peer != "198.18.0.1:9443" || c.Admin.Socket != "/run/appl/lb2.sock" {
		t.Fatalf("lb2: %+v %d %d", c.Admin, c.VRRP.Instances[0].Priority, c.VRRP.Instances[1].Priority)
	}
	// --node wins over the hostname.
	c = decode(t, pairCfg)
	if err := c.Select("lb2", "lb1"); err != nil || c.NodeName() != "lb2" {
		t.Fatalf("--node lb2: %v %s", err, c.NodeName())
	}
}

func TestSelectMissingBlockNamesHostAndBlocks(t *testing.T) {
	c := decode(t, pairCfg)
	err := c.Select("", "web3.example.net")
	if err == nil {
		t.Fatal("no error for a host without a block")
	}
	for _, want := range []string{`"web3.example.net"`, "lb1 (line 23)", "lb2 (line 27)", "--node"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := decode(t, pairCfg).Select("lb9", "x"); err == nil || !strings.Contains(err.Error(), "no `node lb9` block") {
		t.Fatalf("--node lb9: %v", err)
	}
	// No blocks: nothing to select, unless --node asks for one.
	plain := decode(t, "listen l\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n")
	if err := plain.Select("", "anything"); err != nil || plain.Admin.Socket != DefaultAdminSocket {
		t.Fatalf("plain: %v %+v", err, plain.Admin)
	}
	if err := plain.Select("lb1", "anything"); err == nil {
		t.Fatal("--node with no blocks accepted")
	}
}

func TestAdminAndNodeErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ src, want string }{
		{"admin\n    bind 198.18.0.1:9443\n", "an HTTPS bind needs a token"},
		{"admin\n    token short\n", "token too short"},
		{"admin\n    check c backend nowhere\n", `no backend "nowhere"`},
		{"admin\n    check c backend\n", "expected `check NAME backend BACKEND [min-up N]`"},
		{"admin\n    check c backend web min-up 0\n", "min-up N"},
		{"admin\n    crt /x.crt\n    token 0123456789abcdef0\n", "crt and key go together"},
		{"admin\n    frobnicate\n", "unknown keyword in the admin section"},
		{"admin\n    token-file " + filepath.Join(dir, "none") + "\n", "cannot read the token file"},
		{"admin\nadmin\n", "second admin section"},
		{"node\n", "missing name"},
		{"node a\n    priority vi_9 100\n", `no vrrp instance "vi_9"`},
		{"node a\n    priority vi_1 300\n", "invalid priority"},
		{"node a\n    admin-addr nowhere\n", "invalid address"},
		{"node a\nnode a\n", `node "a" already defined`},
		{"node a\n    admin 1.2.3.4:5\n", "second admin"}, // `admin` opens a section: the node block ends there
	}
	base := "listen web\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\nvrrp vi_1\n    interface eth0\n    vrid 1\n    address 198.18.0.1/24\n"
	for _, tc := range cases {
		src := base + tc.src
		if tc.want == "second admin" {
			src += "admin\n"
		}
		_, err := Decode("x.cfg", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
	// A token file is read relative to the configuration; the token never shows in errors.
	if err := os.WriteFile(filepath.Join(dir, "tok"), []byte("abcdefghijklmnopqrstuvwxyz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Decode(filepath.Join(dir, "x.cfg"), []byte(base+"admin\n    token-file tok\n    bind 127.0.0.1:9443\n"))
	if err != nil || c.Admin.Token != "abcdefghijklmnopqrstuvwxyz" {
		t.Fatalf("token-file: %v", err)
	}
	// track-check fed by nothing is a warning.
	c = decode(t, base+"    track-check lonely\n")
	if len(c.Warnings) == 0 || !strings.Contains(strings.Join(c.Warnings, "\n"), "track-check lonely is fed by nothing") {
		t.Fatalf("warnings %q", c.Warnings)
	}
}
