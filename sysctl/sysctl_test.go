package sysctl

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"appl/internal/cfgfile"
)

func decode(t *testing.T, text string) (*Config, error) {
	t.Helper()
	f, err := cfgfile.Parse("t.cfg", []byte(text), cfgfile.Options{})
	if err != nil {
		t.Fatalf("lexer: %v", err)
	}
	return Decode(f)
}

func TestDecode(t *testing.T) {
	c, err := decode(t, `sysctl
    profile loadbalancer
    set net.ipv4.tcp_fin_timeout 10
    set net.ipv4.ip_local_port_range 20000	60000
    set-unchecked net.netfilter.nf_conntrack_max 262144
    persist /tmp/x/90-appl.conf
    nofile 2000000
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Profile != "loadbalancer" || c.PersistPath != "/tmp/x/90-appl.conf" || c.Nofile != 2000000 {
		t.Fatalf("got %+v", c)
	}
	if len(c.Sets) != 3 || c.Sets[1].Value != "20000 60000" || !c.Sets[2].Unchecked || c.Sets[0].Pos.Line != 3 {
		t.Fatalf("sets %+v", c.Sets)
	}
	c, err = decode(t, "sysctl\n persist off\n")
	if err != nil || c.PersistPath != "" {
		t.Fatalf("persist off: %+v %v", c, err)
	}
	c, err = decode(t, "global\n maxconn 10\n")
	if err != nil || c.Profile != "" || len(c.Sets) != 0 || c.PersistPath != DefaultPersistPath {
		t.Fatalf("no section: %+v %v", c, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"sysctl\n set net.ipv4.tcp_fin_timout 7\n", `t.cfg:2: set: unknown key "net.ipv4.tcp_fin_timout" (expected a key appl knows, e.g. net.ipv4.tcp_fin_timeout`},
		{"sysctl\n set net.ipv4.tcp_syncookies 7\n", "t.cfg:2: set: net.ipv4.tcp_syncookies: value 7 out of range (expected 0..2)"},
		{"sysctl\n set net.ipv4.tcp_rmem 4096 87380\n", "net.ipv4.tcp_rmem takes 3 integer value(s), got 2"},
		{"sysctl\n set net.ipv4.ip_local_port_range 60000 1024\n", "must not decrease"},
		{"sysctl\n set vm.swappiness lots\n", `vm.swappiness: "lots" is not an integer`},
		{"sysctl\n set net.ipv4.conf.eth0.rp_filter 3\n", "net.ipv4.conf.eth0.rp_filter: value 3 out of range (expected 0..2)"},
		{"sysctl\n profile webserver\n", "t.cfg:2: profile: expected one profile name (expected one of: loadbalancer)"},
		{"sysctl\n persist relative.conf\n", "not absolute"},
		{"sysctl\n tune fast\n", "t.cfg:2: tune: unknown directive"},
		{"sysctl\n nofile 10\n", "t.cfg:2: nofile: expected one number >= 1024"},
		{"sysctl extra\n", "t.cfg:1: sysctl: section takes no name"},
		{"sysctl\n set-unchecked bad..key 1\n", `bad key "bad..key"`},
		{"sysctl\n set-unchecked net.//.x 1\n", `bad key "net.//.x"`},
		{"sysctl\n set net.ipv4.conf.//.rp_filter 1\n", `unknown key "net.ipv4.conf.//.rp_filter"`},
	}
	for _, c := range cases {
		_, err := decode(t, c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
		if len(cfgfile.AsErrors(err)) == 0 {
			t.Errorf("%q: error is not positioned: %v", c.text, err)
		}
	}
	// All errors are reported together.
	_, err := decode(t, "sysctl\n set a.b 1\n set vm.swappiness 999\n")
	if es := cfgfile.AsErrors(err); len(es) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
}

func wantOf(ws []Want, key string) Want {
	for _, w := range ws {
		if w.Key == key {
			return w
		}
	}
	return Want{}
}

func fields(t *testing.T, v string) []uint64 {
	t.Helper()
	var out []uint64
	for _, f := range strings.Fields(v) {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestProfileScalesWithMemory(t *testing.T) {
	small := Wants(&Config{Profile: "loadbalancer"}, Memory{Bytes: 1 << 30, PageSize: 4096})
	pages := uint64(1<<30) / 4096
	mem := fields(t, wantOf(small, "net.ipv4.tcp_mem").Value)
	if len(mem) != 3 || mem[2] > pages/2 || mem[0] > mem[1] || mem[1] > mem[2] {
		t.Fatalf("tcp_mem on 1 GiB = %v (pages %d)", mem, pages)
	}
	if v := fields(t, wantOf(small, "net.ipv4.tcp_max_tw_buckets").Value)[0]; v > 6000000 || v*200 > (1<<30)/10 {
		t.Fatalf("tw buckets %d on 1 GiB", v)
	}
	if v := fields(t, wantOf(small, "net.core.rmem_max").Value)[0]; v > (1<<30)/32 {
		t.Fatalf("rmem_max %d on 1 GiB", v)
	}
	// Every key the profile writes must pass its own validation.
	for _, w := range small {
		if _, err := normalize(w.Key, w.Value); err != nil {
			t.Errorf("profile value invalid: %v", err)
		}
	}
	// A huge box is capped at the seed's values.
	big := Wants(&Config{Profile: "loadbalancer"}, Memory{Bytes: 4 << 40, PageSize: 4096})
	for key, seed := range map[string]uint64{"fs.file-max": 100428000, "fs.nr_open": 100328000,
		"net.core.netdev_max_backlog": 2000000, "net.ipv4.tcp_max_orphans": 3276800,
		"net.ipv4.tcp_max_tw_buckets": 6000000, "net.core.rmem_max": 50331648} {
		if v := fields(t, wantOf(big, key).Value)[0]; v != seed {
			t.Errorf("%s on 4 TiB = %d, want seed %d", key, v, seed)
		}
	}
	// set overrides the profile in place.
	c := &Config{Profile: "loadbalancer", Sets: []Setting{{Key: "net.ipv4.tcp_fin_timeout", Value: "30"}}}
	ws := Wants(c, Memory{Bytes: 1 << 30, PageSize: 4096})
	if w := wantOf(ws, "net.ipv4.tcp_fin_timeout"); w.Value != "30" || w.AtLeast {
		t.Fatalf("override: %+v", w)
	}
	n := 0
	for _, w := range ws {
		if w.Key == "net.ipv4.tcp_fin_timeout" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("override duplicated the key %d times", n)
	}
}

// fakeRoot builds a /proc/sys-like tree holding the given keys.
func fakeRoot(t *testing.T, live map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for k, v := range live {
		p := keyPath(root, k)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestPlanApplyVerifyPersistFakeRoot(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"fs.file-max":                      "9223372036854775807", // systemd's value: must stay
		"fs.nr_open":                       "1048576",
		"vm.swappiness":                    "60",
		"kernel.shmmax":                    "18446744073692774399",
		"net.ipv4.tcp_rmem":                "4096\t131072\t6291456",
		"net.ipv4.tcp_fin_timeout":         "60",
		"net.ipv4.ip_local_port_range":     "32768\t60999",
		"net.ipv4.conf.eth0/100.rp_filter": "1",
	})
	cfg, err := decode(t, `sysctl
    set fs.file-max 2000000
    set fs.nr_open 2000000
    set vm.swappiness 0
    set net.ipv4.tcp_rmem 32768 699040 50331648
    set net.ipv4.tcp_fin_timeout 60
    set net.ipv4.ip_local_port_range 15000 65000
    set net.ipv4.tcp_tw_recycle 0
    set net.ipv4.conf.eth0/100.rp_filter 2
`)
	if err != nil {
		t.Fatal(err)
	}
	// set is exact, so a lower file-max would be written; the profile's limits are AtLeast.
	cfg.Sets = cfg.Sets[1:]
	cfg.Profile = ""
	p, err := PlanFor(cfg, Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Action{}
	for _, it := range p.Items {
		got[it.Key] = it.Action
	}
	want := map[string]Action{"fs.nr_open": Set, "vm.swappiness": Set, "net.ipv4.tcp_rmem": Set,
		"net.ipv4.tcp_fin_timeout": Keep, "net.ipv4.ip_local_port_range": Set,
		"net.ipv4.tcp_tw_recycle": Missing, "net.ipv4.conf.eth0/100.rp_filter": Set}
	for k, a := range want {
		if got[k] != a {
			t.Errorf("%s: action %v, want %v", k, got[k], a)
		}
	}
	out := p.String()
	for _, s := range []string{
		"~ vm.swappiness = 60 -> 0  (t.cfg:4)",
		"~ net.ipv4.tcp_rmem = 4096 131072 6291456 -> 32768 699040 50331648",
		"! net.ipv4.tcp_tw_recycle: removed from Linux in 4.12, not set",
		"5 sysctl change(s)",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("plan output lacks %q:\n%s", s, out)
		}
	}
	if err := Apply(p); err != nil {
		t.Fatal(err)
	}
	if err := Verify(p); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadKey(root, "net.ipv4.tcp_rmem"); v != "32768 699040 50331648" {
		t.Fatalf("tcp_rmem now %q", v)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "net/ipv4/conf/eth0.100/rp_filter")); strings.TrimSpace(string(b)) != "2" {
		t.Fatalf("vlan interface key not written through '/': %q", b)
	}
	p2, err := PlanFor(cfg, Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Empty() {
		t.Fatalf("second plan not empty:\n%s", p2)
	}
	path := filepath.Join(t.TempDir(), "90-appl.conf")
	if err := Persist(p2, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"vm.swappiness = 0\n", "net.ipv4.tcp_fin_timeout = 60\n",
		"net.ipv4.tcp_rmem = 32768 699040 50331648\n", "# net.ipv4.tcp_tw_recycle = 0  (removed"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("persisted file lacks %q:\n%s", s, b)
		}
	}
}

func TestProfileKeepsHigherLimits(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"fs.file-max":        "9223372036854775807",
		"net.core.somaxconn": "4096",
	})
	p, err := PlanFor(&Config{Profile: "loadbalancer"}, Env{Root: root, Mem: Memory{Bytes: 1 << 30, PageSize: 4096}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range p.Items {
		switch it.Key {
		case "fs.file-max":
			if it.Action != Keep || it.Reason == "" {
				t.Errorf("file-max %+v: a higher live limit must be kept", it)
			}
		case "net.core.somaxconn":
			if it.Action != Set || it.Value != "65535" {
				t.Errorf("somaxconn %+v", it)
			}
		default:
			if it.Action != Missing {
				t.Errorf("%s: %v, want missing in a tree without it", it.Key, it.Action)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "p.conf")
	if err := Persist(p, path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "\nfs.file-max") {
		t.Fatalf("persist would lower file-max at boot:\n%s", b)
	}
}

func TestApplyAndVerifyErrorsNameTheKey(t *testing.T) {
	root := fakeRoot(t, map[string]string{"vm.swappiness": "60", "net.ipv4.tcp_fin_timeout": "60"})
	cfg, _ := decode(t, "sysctl\n set vm.swappiness 10\n set net.ipv4.tcp_fin_timeout 7\n")
	p, err := PlanFor(cfg, Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	// Make one key unwritable: the other is still written and the error names the first.
	sw := keyPath(root, "vm.swappiness")
	if err := os.Remove(sw); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sw, 0o755); err != nil {
		t.Fatal(err)
	}
	err = Apply(p)
	if err == nil || !strings.Contains(err.Error(), "vm.swappiness = 10") {
		t.Fatalf("apply error %v does not name the key", err)
	}
	if v, _ := ReadKey(root, "net.ipv4.tcp_fin_timeout"); v != "7" {
		t.Fatalf("the other key was not written: %q", v)
	}
	// A kernel that clamps a value is caught by Verify.
	if err := os.WriteFile(keyPath(root, "net.ipv4.tcp_fin_timeout"), []byte("8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(p); err == nil || !strings.Contains(err.Error(), `net.ipv4.tcp_fin_timeout: kernel holds "8", wanted "7"`) {
		t.Fatalf("verify: %v", err)
	}
}

func TestNetNamespaceOnlySkipsGlobalKeys(t *testing.T) {
	root := fakeRoot(t, map[string]string{"vm.swappiness": "60", "net.ipv4.ip_forward": "0", "fs.file-max": "10"})
	cfg, _ := decode(t, "sysctl\n set vm.swappiness 0\n set net.ipv4.ip_forward 1\n set fs.file-max 2000000\n")
	p, err := PlanFor(cfg, Env{Root: root, NetNamespaceOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(p); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"vm.swappiness": "60", "fs.file-max": "10", "net.ipv4.ip_forward": "1"} {
		if v, _ := ReadKey(root, k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
}

func TestRaiseNofile(t *testing.T) {
	var lim = getNofile(t)
	defer setNofile(t, lim)
	if lim.Max < 4096 {
		t.Skipf("hard nofile limit %d too low for the test", lim.Max)
	}
	setNofile(t, rlimit{Cur: 1024, Max: lim.Max})
	got, err := RaiseNofile(4096)
	if err != nil || got != 4096 || getNofile(t).Cur != 4096 {
		t.Fatalf("RaiseNofile(4096) = %d, %v; now %+v", got, err, getNofile(t))
	}
	// Never lowers.
	if got, err := RaiseNofile(2048); err != nil || got != 4096 {
		t.Fatalf("RaiseNofile(2048) = %d, %v", got, err)
	}
	// Above fs.nr_open: raised as far as allowed, with an error that says why.
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		t.Skip(err)
	}
	nr, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	got, err = RaiseNofile(nr + 1)
	if err == nil || !strings.Contains(err.Error(), "fs.nr_open") {
		t.Fatalf("RaiseNofile(nr_open+1) = %d, %v: want an error naming fs.nr_open", got, err)
	}
	if got < 4096 || getNofile(t).Cur != got {
		t.Fatalf("limit after partial raise: %d, now %+v", got, getNofile(t))
	}
}
