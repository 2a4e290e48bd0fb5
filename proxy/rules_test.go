package proxy

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/proxy/config"
	"appl/proxy/stick"
)

func loadCfg(t testing.TB, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.cfg")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// silent-drop sends nothing: the client's socket sees neither FIN nor RST.
func TestSilentDrop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("silent-drop uses TCP_REPAIR, which needs CAP_NET_ADMIN (run as root)")
	}
	b := startBackend(t, "B", "")
	front := freeAddr(t)
	p, _ := startProxy(t, loadCfg(t, `
frontend fe
    mode tcp
    bind `+front+`
    tcp-request connection silent-drop if { src 127.0.0.1 }
    default_backend be
backend be
    mode tcp
    server s `+b.addr+`
`))
	c, err := net.DialTimeout("tcp", front, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("silent-drop: read got %v, want a timeout (nothing sent)", err)
	}
	eventually(t, 5*time.Second, "dropped connection ended", func() bool { return p.Status().ActConn == 0 })
	if b.hits.Load() != 0 {
		t.Fatalf("backend got %d connections", b.hits.Load())
	}
}

// A reload whose rules do not compile changes nothing: the tables and their entries stay.
func TestReloadKeepsTablesAndRefusesBadRules(t *testing.T) {
	b := startBackend(t, "B", "")
	front := freeAddr(t)
	good := `
frontend fe
    mode tcp
    bind ` + front + `
    default_backend be
backend be
    mode tcp
    stick-table type ip size 10 expire 1m store conn_cnt
    stick on src
    server s ` + b.addr + `
`
	p, _ := startProxy(t, loadCfg(t, good))
	if s, err := hello(front); err != nil || s != "B" {
		t.Fatalf("%q %v", s, err)
	}
	tabs := p.Tables()
	if len(tabs) != 1 || tabs[0].Name() != "be" || tabs[0].Len() != 1 {
		t.Fatalf("tables %v", tabs)
	}
	bad := strings.Replace(good, "stick on src", "stick on src table nope", 1)
	if err := p.Reload(loadCfg(t, bad)); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("reload with a bad table reference: %v", err)
	}
	if got := p.Tables(); len(got) != 1 || got[0] != tabs[0] || got[0].Len() != 1 {
		t.Fatalf("tables after a refused reload: %v", got)
	}
	if err := p.Reload(loadCfg(t, good)); err != nil {
		t.Fatal(err)
	}
	if got := p.Tables(); len(got) != 1 || got[0] != tabs[0] {
		t.Fatalf("same definition: table not kept: %v", got)
	}
}

// A listen section's rules are compiled once: its table is declared once, stickiness and
// tracking work on the one section.
func TestListenStickiness(t *testing.T) {
	b1, b2 := startBackend(t, "B1", ""), startBackend(t, "B2", "")
	front := freeAddr(t)
	p, _ := startProxy(t, loadCfg(t, `
listen li
    mode tcp
    bind `+front+`
    balance roundrobin
    stick-table type ip size 10 expire 1m store conn_cnt,server_id
    tcp-request connection track-sc0 src
    stick on src
    server s1 `+b1.addr+`
    server s2 `+b2.addr+`
`))
	first, err := hello(front)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if s, err := hello(front); err != nil || s != first {
			t.Fatalf("connection %d: %q %v, want sticky %s", i, s, err, first)
		}
	}
	tabs := p.Tables()
	if len(tabs) != 1 || tabs[0].Name() != "li" || tabs[0].Len() != 1 {
		t.Fatalf("tables %v", tabs)
	}
	var sb strings.Builder
	if err := tabs[0].Show(&sb, stick.Filter{}); err != nil {
		t.Fatal(err)
	}
	// tracked and stuck on the same entry: each connection counted once
	if out := sb.String(); !strings.Contains(out, "key=127.0.0.1 ") || !strings.Contains(out, "conn_cnt=6") {
		t.Fatalf("show table li:\n%s", out)
	}
}
