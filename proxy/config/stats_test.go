package config

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestStatsSeeds(t *testing.T) {
	t.Run("002", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/002-http-stats.cfg")
		be := cfg.Backend("stats")
		st := be.Stats
		if st == nil {
			t.Fatal("listen stats has no stats page")
		}
		if st.URI != "/haproxy_stats" || st.Refresh != 10*time.Second || !st.ShowNode || st.NodeName != "" ||
			st.Realm != DefaultStatsRealm || len(st.Users) != 0 || st.Admin == nil || st.HideVersion {
			t.Errorf("stats = %+v", st)
		}
		if st.Admin.String() != "if AUTH_ADMIN" {
			t.Errorf("admin cond %q", st.Admin.String())
		}
		if len(st.Rules) != 1 || st.Rules[0].Action != "auth" || st.Rules[0].Cond == nil || st.Rules[0].Cond.String() != "unless AUTH" {
			t.Errorf("rules = %+v", st.Rules)
		}
		if st.Pos.Line != 35 {
			t.Errorf("stats pos = %v, want line 35", st.Pos)
		}
		for _, fe := range cfg.Frontends {
			if fe.Stats != nil {
				t.Errorf("frontend half %q carries the page", fe.Name)
			}
		}
		for _, b := range cfg.Backends {
			if b.Name != "stats" && b.Stats != nil {
				t.Errorf("backend %q has a stats page", b.Name)
			}
		}
		for _, w := range cfg.Warnings {
			if strings.Contains(w.Error(), ": stats: ") {
				t.Errorf("warning %v", w)
			}
		}
	})
	t.Run("004", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/004-l7.cfg")
		st := cfg.Backend("stats").Stats
		if st == nil || st.URI != "/stats" || st.Refresh != 30*time.Second || st.Realm != "HAProxy Stats" ||
			len(st.Users) != 1 || st.Users[0].Name != "admin" || st.Users[0].Password != "admin" || st.Admin != nil {
			t.Fatalf("stats = %+v", st)
		}
	})
	t.Run("003", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/003-crossbar-l4.cfg")
		st := cfg.Backend("stats").Stats
		if st == nil || st.URI != "/" || len(st.Rules) != 0 {
			t.Fatalf("stats = %+v", st)
		}
		if cfg.Backend("crossbar_nodes").Stats != nil {
			t.Errorf("tcp backend got a page")
		}
	})
}

func TestStatsDecoding(t *testing.T) {
	cfg, err := decodeString(t, `defaults
 mode http
 stats auth a:b
 stats realm Def
listen l1
 bind :1
 stats uri /s
 stats auth c:d:e
 stats show-node n1
 stats show-desc hello world
 stats hide-version
 stats show-legends
 stats scope .
 acl local src 127.0.0.1
 stats admin unless local
 stats http-request allow if local
 stats http-request auth realm R2 unless local
 stats http-request deny
listen l2
 bind :2
frontend f
 bind :3
 default_backend l2
backend tcpb
 mode tcp
`)
	if err != nil {
		t.Fatal(err)
	}
	l1 := cfg.Backend("l1").Stats
	if l1.URI != "/s" || l1.Realm != "Def" || len(l1.Users) != 2 || l1.Users[1].Name != "c" || l1.Users[1].Password != "d:e" ||
		l1.NodeName != "n1" || l1.Desc != "hello world" || !l1.HideVersion || !l1.ShowLegends || len(l1.Scope) != 1 ||
		l1.Admin == nil || len(l1.Rules) != 3 || l1.Rules[1].Realm != "R2" || l1.Rules[2].Cond != nil {
		t.Errorf("l1 = %+v", l1)
	}
	// The defaults' page is inherited unchanged by sections without stats lines, and is
	// not modified by l1's own lines.
	l2 := cfg.Backend("l2").Stats
	if l2 == nil || l2.URI != DefaultStatsURI || len(l2.Users) != 1 || l2.Realm != "Def" {
		t.Errorf("l2 = %+v", l2)
	}
	if cfg.Frontends[2].Stats == nil || cfg.Frontends[2].Name != "f" {
		t.Errorf("frontend f = %+v", cfg.Frontends[2])
	}
	if cfg.Backend("tcpb").Stats != nil {
		t.Errorf("a tcp backend keeps a stats page")
	}
	// A frontend's page is served (the frontend answers its URI before choosing a
	// backend): only the tcp backend's page is warned about.
	var sawTCP, sawFE bool
	for _, w := range cfg.Warnings {
		s := w.Error()
		sawTCP = sawTCP || strings.Contains(s, `stats requires mode http; ignored by tcp backend "tcpb"`)
		sawFE = sawFE || strings.Contains(s, `(frontend "f")`)
	}
	if !sawTCP || sawFE || len(cfg.Warnings) != 1 {
		t.Errorf("warnings %v", cfg.Warnings)
	}
}

func TestStatsErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"defaults\n stats admin if TRUE\n", `t.cfg:2: stats: 'stats admin' not allowed in a defaults section`},
		{"defaults\n stats http-request deny\n", `t.cfg:2: stats: 'stats http-request' not allowed in a defaults section`},
		{"listen l\n mode http\n stats admin\n", `t.cfg:3: stats: stats admin needs a condition`},
		{"listen l\n mode http\n stats admin if NOPE\n", `unknown ACL "NOPE"`},
		{"listen l\n mode http\n stats uri x\n", `stats uri must start with '/'`},
		{"listen l\n mode http\n stats auth nocolon\n", `stats auth expects USER:PASSWORD`},
		{"listen l\n mode http\n stats http-request redirect location /\n", `unsupported stats http-request action "redirect"`},
		{"listen l\n mode http\n stats http-request auth realm\n", `realm needs a value`},
		{"listen l\n mode http\n stats http-request auth realm a\\\\b\n", `realm must not contain quotes`},
		{"listen l\n mode http\n stats http-request deny foo\n", `unexpected "foo"`},
		{"listen l\n mode http\n stats refresh soon\n", `stats refresh:`},
		{"listen l\n mode http\n stats enabel\n", `did you mean "enable"?`},
		{"listen l\n mode http\n stats maxconn 10\n", `stats maxconn belongs in the global section`},
		{"listen l\n mode http\n stats show-node a b\n", `at most one name`},
		{"listen l\n mode http\n http-request use-service lua.x\n", `appl's only service is prometheus-exporter`},
		{"listen l\n mode http\n http-request use-service prometheus-exporter when x\n", `unexpected "when x"`},
		{"defaults\n http-request use-service prometheus-exporter\n", `not allowed in a defaults section`},
	}
	for _, tc := range tests {
		_, err := decodeString(t, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestUserlistPasswordKinds(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("bpass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	src := "userlist u\n group g\n user a password $6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1 groups g\n" +
		" user b password " + string(bc) + "\n user c password $1$abc$xyz\n user d insecure-password clear\n"
	cfg, err := decodeString(t, src)
	if err != nil {
		t.Fatal(err)
	}
	ul := cfg.Userlists[0]
	if !ul.Authenticate("a", "Hello world!") || ul.Authenticate("a", "Hello world?") || !ul.InGroup("a", "g") {
		t.Error("$6$ user")
	}
	if !ul.Authenticate("b", "bpass") || ul.Authenticate("b", "bpas") {
		t.Error("bcrypt user")
	}
	if ul.Authenticate("c", "") || ul.Authenticate("nobody", "") || !ul.Authenticate("d", "clear") {
		t.Error("md5 / unknown / clear user")
	}
	warned := false
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Error(), `unsupported password hash "$1$..."`) {
			warned = true
		}
		if strings.Contains(w.Error(), "xyz") {
			t.Errorf("warning echoes the hash: %v", w)
		}
	}
	if !warned {
		t.Errorf("no warning for $1$: %v", cfg.Warnings)
	}
}

func TestPrometheusDecoding(t *testing.T) {
	cfg, err := decodeString(t, `listen l
 mode http
 bind :1
 http-request use-service prometheus-exporter if { path /metrics }
frontend f
 mode http
 bind :2
 http-request use-service prometheus-exporter
 default_backend l
backend t
 mode tcp
 http-request use-service prometheus-exporter
`)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Backend("l")
	if len(l.Prometheus) != 1 || l.Prometheus[0].Cond == nil || l.Prometheus[0].Cond.String() != "if { path /metrics }" {
		t.Errorf("listen prometheus = %+v", l.Prometheus)
	}
	for _, r := range l.Rules {
		if r.Keyword() == "http-request" {
			t.Errorf("use-service left in the rules the http engine compiles: %v", r.Words)
		}
	}
	if len(cfg.Frontends[0].Prometheus) != 0 || len(cfg.Frontends[1].Prometheus) != 1 || cfg.Frontends[1].Prometheus[0].Cond != nil {
		t.Errorf("frontends = %+v %+v", cfg.Frontends[0].Prometheus, cfg.Frontends[1].Prometheus)
	}
	if len(cfg.Backend("t").Prometheus) != 0 {
		t.Errorf("tcp backend keeps prometheus")
	}
}
