package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/proxy/config"
	"appl/proxy/httpmode"
)

// The admin form as a browser posts it (urlencoded body, Origin of the page) reaches the
// stats page through the http engine: the stats backend is an httpmode.BodyResponder.
// Before, the adapter hid RespondBody and the page answered 501.
func TestStatsAdminFormBodyThroughEngine(t *testing.T) {
	up := startBackend(t, "s1", "")
	statsAddr := freeAddr(t)
	src := fmt.Sprintf(`defaults
 timeout connect 2s
 timeout client 5s
 timeout server 5s
frontend fe
 bind %s
 default_backend app
backend app
 server s1 %s
listen stats
 mode http
 bind %s
 stats uri /st
 stats auth a:b
 stats admin if TRUE
`, freeAddr(t), up.addr, statsAddr)
	path := filepath.Join(t.TempDir(), "t.cfg")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := startProxy(t, cfg)
	if _, ok := p.cur.Load().httpBE["stats"].(httpmode.BodyResponder); !ok {
		t.Fatal("the stats backend does not read the admin form body")
	}
	form := url.Values{"b": {"app"}, "s": {"s1"}, "action": {"maint"}}.Encode()
	req, _ := http.NewRequest("POST", "http://"+statsAddr+"/st", strings.NewReader(form))
	req.SetBasicAuth("a", "b")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://"+statsAddr)
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.HasSuffix(resp.Header.Get("Location"), ";st=DONE") {
		t.Fatalf("form POST: %d %q, want 303 ;st=DONE", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st := serverStatus(p, "app", "s1").State; st != StateMaint {
		t.Fatalf("s1 state %v after the form, want MAINT", st)
	}
}
