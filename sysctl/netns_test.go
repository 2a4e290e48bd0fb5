package sysctl

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"appl/internal/testbed"
)

// nsKeys are all per network namespace, so the test writes only inside its namespace.
const nsConfig = `sysctl
    set net.ipv4.ip_forward 1
    set net.ipv4.tcp_fin_timeout 7
    set net.core.somaxconn 65535
    set net.ipv4.ip_local_port_range 15000 65000
    set net.ipv4.conf.all.send_redirects 0
    set net.ipv4.tcp_tw_recycle 0
    set fs.file-max 100428000
`

func hostValue(t *testing.T, key string) string {
	t.Helper()
	v, err := ReadKey("", key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func nsValue(t *testing.T, h *testbed.Host, key string) string {
	t.Helper()
	return strings.Join(strings.Fields(h.MustRun("sysctl", "-n", key)), " ")
}

func TestPlanApplyInNamespace(t *testing.T) {
	b := testbed.New(t)
	h := b.Host("sys")
	cfg, err := decode(t, nsConfig)
	if err != nil {
		t.Fatal(err)
	}
	hostBefore := map[string]string{}
	for _, k := range []string{"net.ipv4.ip_forward", "net.ipv4.tcp_fin_timeout", "net.core.somaxconn", "fs.file-max"} {
		hostBefore[k] = hostValue(t, k)
	}
	liveFin := nsValue(t, h, "net.ipv4.tcp_fin_timeout")
	var p *Plan
	if err := h.Do(func() (err error) { p, err = PlanFor(cfg, Env{NetNamespaceOnly: true}); return }); err != nil {
		t.Fatal(err)
	}
	out := p.String()
	if !strings.Contains(out, "~ net.ipv4.tcp_fin_timeout = "+liveFin+" -> 7") {
		t.Fatalf("plan does not show the namespace's live value %s:\n%s", liveFin, out)
	}
	if !strings.Contains(out, "! net.ipv4.tcp_tw_recycle: removed from Linux in 4.12") {
		t.Fatalf("plan does not report the removed key:\n%s", out)
	}
	for _, it := range p.Items {
		if it.Key == "fs.file-max" && it.Action != Skip {
			t.Fatalf("global key not skipped: %+v", it)
		}
	}
	if err := h.Do(func() error {
		if err := Apply(p); err != nil {
			return err
		}
		return Verify(p)
	}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.tcp_fin_timeout": "7",
		"net.core.somaxconn": "65535", "net.ipv4.ip_local_port_range": "15000 65000",
		"net.ipv4.conf.all.send_redirects": "0"} {
		if got := nsValue(t, h, k); got != want {
			t.Errorf("read back %s = %q, want %q", k, got, want)
		}
	}
	for k, v := range hostBefore {
		if got := hostValue(t, k); got != v {
			t.Errorf("host's %s changed: %q -> %q", k, v, got)
		}
	}
	var p2 *Plan
	if err := h.Do(func() (err error) { p2, err = PlanFor(cfg, Env{NetNamespaceOnly: true}); return }); err != nil {
		t.Fatal(err)
	}
	if !p2.Empty() {
		t.Fatalf("second plan not empty:\n%s", p2)
	}
}

// The per-namespace flags in the key table must match the kernel: a key marked per
// namespace exists inside a fresh namespace.
func TestNamespacedKeysExistInNamespace(t *testing.T) {
	b := testbed.New(t)
	h := b.Host("keys")
	if err := h.Do(func() error {
		for k, s := range keys {
			if s.ns != NSNet || s.removed != "" {
				continue
			}
			if _, err := ReadKey("", k); err != nil {
				t.Errorf("%s is marked per network namespace but: %v", k, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCLIInNamespace(t *testing.T) {
	b := testbed.New(t)
	h := b.Host("cli")
	dir := t.TempDir()
	persist := filepath.Join(dir, "90-appl.conf")
	cfgPath := filepath.Join(dir, "appl.cfg")
	if err := os.WriteFile(cfgPath, []byte(nsConfig+"    persist "+persist+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		var code int
		if err := h.Do(func() error { code = RunCLI(args, &out, &errb); return nil }); err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	code, out, _ := run("apply", "--dry-run", "--net-namespace-only", "-f", cfgPath)
	if code != 0 || !strings.Contains(out, "-> 7") {
		t.Fatalf("dry-run: %d %s", code, out)
	}
	if nsValue(t, h, "net.ipv4.tcp_fin_timeout") == "7" {
		t.Fatal("--dry-run wrote a value")
	}
	if _, err := os.Stat(persist); err == nil {
		t.Fatal("--dry-run persisted")
	}
	code, out, errOut := run("apply", "--net-namespace-only", "-f", cfgPath)
	if code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	if nsValue(t, h, "net.ipv4.tcp_fin_timeout") != "7" {
		t.Fatal("apply did not write")
	}
	data, err := os.ReadFile(persist)
	if err != nil || !strings.Contains(string(data), "net.ipv4.tcp_fin_timeout = 7\n") {
		t.Fatalf("persisted file: %v\n%s", err, data)
	}
	code, out, _ = run("plan", "--net-namespace-only", "-f", cfgPath)
	if code != 0 || !strings.Contains(out, "no sysctl change") {
		t.Fatalf("plan after apply: %d %s", code, out)
	}
	bad := filepath.Join(dir, "bad.cfg")
	_ = os.WriteFile(bad, []byte("sysctl\n set net.ipv4.tcp_syncookies 9\n"), 0o644)
	code, _, errOut = run("plan", "-f", bad)
	if code != 2 || !strings.Contains(errOut, "bad.cfg:2: set: net.ipv4.tcp_syncookies: value 9 out of range") {
		t.Fatalf("bad config: %d %s", code, errOut)
	}
	if code, _, _ := run("frob"); code != 2 {
		t.Fatalf("usage: %d", code)
	}
}
