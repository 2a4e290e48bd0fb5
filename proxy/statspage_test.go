package proxy

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/http1"
	"appl/proxy/stats"
)

// statsView is acl.HTTPView over a parsed request.
type statsView struct{ r *http1.Request }

func (v statsView) Method() string { return string(v.r.Method()) }
func (v statsView) Path() string   { return string(v.r.Path()) }
func (v statsView) URI() string    { return string(v.r.Target()) }
func (v statsView) Query() string  { q, _ := v.r.Query(); return string(q) }
func (v statsView) Header(n string) (string, bool) {
	b, ok := v.r.Header(n)
	return string(b), ok
}
func (v statsView) HeaderValues(n string) []string {
	if b, ok := v.r.Header(n); ok {
		return []string{string(b)}
	}
	return nil
}

// The adapter gives the page the running proxy's servers, and the page's admin actions
// reach the same setters as the runtime API.
func TestStatsResponderAdapter(t *testing.T) {
	up := startBackend(t, "s1", "")
	dead := freeAddr(t)
	src := fmt.Sprintf(`frontend fe
 bind %s
 default_backend app
backend app
 balance roundrobin
 server s1 %s check inter 100ms rise 1 fall 1
 server s2 %s check inter 100ms rise 1 fall 1 backup maxconn 7
listen stats
 mode http
 bind %s
 stats uri /st
 stats auth a:b
 stats admin if TRUE
`, freeAddr(t), up.addr, dead, freeAddr(t))
	path := filepath.Join(t.TempDir(), "t.cfg")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := startProxy(t, cfg)
	g := p.cur.Load()
	if r := p.statsResponder(g.backends["app"]); r != nil {
		t.Fatalf("a backend without stats got a responder")
	}
	r := p.statsResponder(g.backends["stats"])
	if r == nil {
		t.Fatal("listen stats has no responder")
	}
	eventually(t, 5*time.Second, "s2 down and s1 checked", func() bool {
		return serverStatus(p, "app", "s2").State == StateDown && serverStatus(p, "app", "s1").CheckStatus != ""
	})

	snap := p.StatsSnapshot()
	var names []string
	for _, px := range snap.Proxies {
		names = append(names, fmt.Sprintf("%d:%s:%v:%v", px.ID, px.Name, px.Frontend != nil, px.Backend != nil))
	}
	if strings.Join(names, " ") != "1:fe:true:false 2:app:false:true 3:stats:true:true" {
		t.Fatalf("proxies %v", names)
	}
	app := snap.Proxies[1].Backend
	s1, s2 := app.Servers[0], app.Servers[1]
	if s1.State != stats.StateUp || s1.Check == nil || s1.Check.Status != "L4OK" || s1.Check.Rise != 1 ||
		s2.State != stats.StateDown || !s2.Backup || s2.Limit != 7 || s2.Check.Status != "L4CON" || s2.Check.Info == "" {
		t.Fatalf("servers %+v %+v / checks %+v %+v", s1, s2, s1.Check, s2.Check)
	}
	if snap.Proxies[2].Mode != "http" || snap.PID != os.Getpid() {
		t.Errorf("snapshot %+v", snap)
	}

	respond := func(raw string) (string, int) {
		req := new(http1.Request)
		if _, err := req.Parse([]byte(raw), http1.Limits{}); err != nil {
			t.Fatal(err)
		}
		out, status, handled := r.Respond(nil, req, &acl.Txn{HTTP: statsView{req}})
		if !handled {
			t.Fatalf("not handled: %q", raw)
		}
		return string(out), status
	}
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("a:b")) + "\r\n"
	if _, st := respond("GET /st HTTP/1.1\r\nHost: x\r\n\r\n"); st != 401 {
		t.Fatalf("no auth: %d", st)
	}
	out, st := respond("GET /st;csv HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n")
	if st != 200 || !strings.Contains(out, "\napp,s1,") || !strings.Contains(out, "\nstats,FRONTEND,") {
		t.Fatalf("csv: %d\n%s", st, out)
	}
	out, st = respond("POST /st?b=app&s=s1&action=maint HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n")
	if st != 303 || !strings.Contains(out, "Location: /st;st=DONE\r\n") {
		t.Fatalf("maint: %d %q", st, out)
	}
	if s := serverStatus(p, "app", "s1"); s.State != StateMaint || s.Admin != AdminMaint {
		t.Fatalf("s1 after maint: %+v", s)
	}
	if _, st = respond("POST /st?b=%232&s=s1&action=weight&w=9 HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"); st != 303 {
		t.Fatalf("weight: %d", st)
	}
	if _, st = respond("POST /st?b=%232&s=s1&action=ready HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"); st != 303 {
		t.Fatalf("ready: %d", st)
	}
	eventually(t, 5*time.Second, "s1 ready with weight 9", func() bool {
		s := serverStatus(p, "app", "s1")
		return s.State == StateUp && s.Weight == 9
	})

	// s2 has been down since the sampler started: its downtime grows. s1's maintenance
	// is not a DOWN transition of s1, but it left the backend without a server: that is
	// backend downtime, as in HAProxy.
	eventually(t, 5*time.Second, "s2 downtime", func() bool {
		app := p.StatsSnapshot().Proxies[1].Backend
		return app.Servers[1].Downtime > 0 && app.Servers[0].Check.Downs == 0 && app.Servers[0].Downtime == 0 &&
			app.Downtime > 0 && app.StatusText() == "UP"
	})

	// Sessions through the frontend show in the sampled rate and totals.
	feAddr := cfg.Frontends[0].Binds[0].Address
	for i := 0; i < 3; i++ {
		if name, err := hello(feAddr); err != nil || name != "s1" {
			t.Fatalf("hello %d: %q %v", i, name, err)
		}
	}
	eventually(t, 5*time.Second, "frontend rate_max >= 1 and stot 3", func() bool {
		fe := p.StatsSnapshot().Proxies[0].Frontend
		return fe.RateMax >= 1 && fe.Total == 3 && fe.Max >= fe.Cur
	})

	// s1 going down (its listener closed) is counted once, in chkdown and the backend's
	// downtime once no server is left.
	up.stop()
	eventually(t, 5*time.Second, "s1 down, counted", func() bool {
		app := p.StatsSnapshot().Proxies[1].Backend
		return app.Servers[0].State == stats.StateDown && app.Servers[0].Check.Downs == 1 && app.Downtime > 0 && app.Downs == 2 &&
			!app.LastChange.IsZero() && app.StatusText() == "DOWN"
	})
}

func TestCheckCode(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "Layer4 check passed": "L4OK", "Layer4 connection problem: Connection refused": "L4CON",
		"Layer4 timeout": "L4TOUT", "Layer7 check passed": "L7OK", "Layer7 wrong status: 404": "L7STS",
		"Layer7 invalid response": "L7RSP", "Socket error: x": "SOCKERR",
		"Layer6 check passed": "L6OK", "Layer6 timeout": "L6TOUT", "Layer6 invalid response: SSL handshake failure": "L6RSP",
	} {
		if got := checkCode(in); got != want {
			t.Errorf("checkCode(%q) = %q, want %q", in, got, want)
		}
	}
}
