package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedWarnings lists, per seed fixture, exactly the warnings `appld -c` prints (path
// removed). A change in what is reported unsupported or not served must show here.
var seedWarnings = map[string][]string{
	"000-transparent-tcp.cfg": {
		"16: bind-process: unsupported directive (appl does not implement bind-process yet; see docs/compatibility.md)",
		"25: bind-process: unsupported directive (appl does not implement bind-process yet; see docs/compatibility.md)",
	},
	"001-smtp-transparent.cfg": {
		"9: chroot: not applied: appld re-reads its configuration, certificates and map files on reload (see docs/configuration.md, Privileges)",
		"10: user: not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)",
		"11: group: not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)",
		"12: daemon: ignored: appld stays in the foreground, as HAProxy does in systemd mode (-Ws); a service manager runs it",
	},
	"001-smtp.cfg": {
		"10: chroot: not applied: appld re-reads its configuration, certificates and map files on reload (see docs/configuration.md, Privileges)",
		"11: user: not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)",
		"12: group: not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)",
		"13: daemon: ignored: appld stays in the foreground, as HAProxy does in systemd mode (-Ws); a service manager runs it",
	},
	"002-http-stats.cfg": {},
	"002-mysql.cfg": {
		"9: option: unsupported directive (appl does not implement option socket-stats yet; see docs/compatibility.md)",
		"25: option: unsupported directive (appl does not implement option socket-stats yet; see docs/compatibility.md)",
	},
	"003-crossbar-l4.cfg": {},
	"004-l4.cfg": {
		"6: daemon: ignored: appld stays in the foreground, as HAProxy does in systemd mode (-Ws); a service manager runs it",
		"8: user: not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)",
	},
	"004-l7.cfg": {
		"6: daemon: ignored: appld stays in the foreground, as HAProxy does in systemd mode (-Ws); a service manager runs it",
		"8: user: not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)",
	},
}

func TestSeedsLoad(t *testing.T) {
	files, err := filepath.Glob("testdata/seeds/*.cfg")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed fixtures: %v", err)
	}
	if len(files) != len(seedWarnings) {
		t.Errorf("%d fixtures but %d entries in seedWarnings", len(files), len(seedWarnings))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, ok := seedWarnings[filepath.Base(f)]
			if !ok {
				t.Fatalf("fixture not listed in seedWarnings")
			}
			cfg, warns, err := Check(f)
			if err != nil {
				t.Fatalf("refused:\n%v", err)
			}
			var got []string
			for _, w := range warns {
				got = append(got, strings.TrimPrefix(w, "[WARNING] "+f+":"))
			}
			if !slices.Equal(got, want) {
				t.Errorf("warnings changed:\ngot:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			if len(cfg.Frontends) == 0 || len(cfg.Backends) == 0 {
				t.Errorf("decoded %d frontends and %d backends", len(cfg.Frontends), len(cfg.Backends))
			}
		})
	}
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg
}

// The seeds' decoded values: what the data plane will run.
func TestSeedValues(t *testing.T) {
	t.Run("000 transparent port range and map", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/000-transparent-tcp.cfg")
		fe := cfg.Frontends[0]
		if len(fe.Binds) != 546+1 {
			t.Fatalf("binds = %d, want 547 (5000-5545 expanded, plus 19765)", len(fe.Binds))
		}
		if b := fe.Binds[0]; b.Address != "127.0.0.1:5000" || b.Network != "tcp4" || !b.Transparent {
			t.Errorf("first bind = %+v", b)
		}
		if b := fe.Binds[545]; b.Address != "127.0.0.1:5545" {
			t.Errorf("last range bind = %s", b.Address)
		}
		if len(fe.UseBackends) != 1 || fe.UseBackends[0].Expr == nil || fe.UseBackends[0].Backend != "" {
			t.Fatalf("use_backend = %+v, want one %%[expr]", fe.UseBackends)
		}
		be := cfg.Backend("ft_group")
		if be.Source == nil || be.Source.UseSrc != "clientip" || !be.Source.Addr.IsUnspecified() {
			t.Errorf("source = %+v", be.Source)
		}
		if s := be.Servers[0]; s.Address != "0.0.0.0" || s.Port != 0 {
			t.Errorf("server srv1 * = %s:%d, want 0.0.0.0:0 (original destination)", s.Address, s.Port)
		}
		if len(be.Rules) != 2 || be.Rules[0].Keyword() != "stick-table" {
			t.Errorf("raw rules = %v", be.Rules)
		}
	})
	t.Run("001 smtp servers", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/001-smtp-transparent.cfg")
		g := cfg.Global
		if g.MaxConn != 6000 || !g.Daemon || g.Chroot != "/var/lib/haproxy" || g.User != "root" || len(g.Logs) != 2 {
			t.Errorf("global = %+v", g)
		}
		if l := g.Logs[1]; l.Address != "udp:127.0.0.1:514" || l.Facility != "local1" || l.Level != "notice" {
			t.Errorf("log = %+v", l)
		}
		fe := cfg.Frontends[0]
		if fe.Timeouts.Client != time.Minute || !fe.Log.TCPLog || len(fe.Log.Targets) != 2 || fe.DefaultBackend != "TO-FILTER-CLUSTER" {
			t.Errorf("frontend = %+v", fe)
		}
		if fe.Options["http-server-close"] {
			t.Errorf("no option http-server-close not applied")
		}
		be := cfg.Backends[0]
		if be.Timeouts.Connect != 5*time.Second || be.Timeouts.Server != time.Minute || be.Balance.Algo != "roundrobin" {
			t.Errorf("backend = %+v", be)
		}
		for _, s := range be.Servers {
			if s.Weight != 100 || !s.Check || s.Inter != 6*time.Second || s.MaxConn != 0 || !s.SendProxy ||
				s.OnMarkedDown != "shutdown-sessions" || s.Port != 25 || s.FastInter != 6*time.Second || s.Rise != 2 || s.Fall != 3 {
				t.Errorf("server = %+v", s)
			}
		}
	})
	t.Run("002 mysql default-server and tcp-check", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/002-mysql.cfg")
		be := cfg.Backend("haproxy_10.2.2.4_3306")
		if be == nil || be.Balance.Algo != "leastconn" || !be.AllBackups || be.Check.Kind != "tcp-check" {
			t.Fatalf("backend = %+v", be)
		}
		if len(be.Check.TCPSteps) != 1 || be.Check.TCPSteps[0].Match != "string" || be.Check.TCPSteps[0].Pattern != "is running." {
			t.Errorf("tcp-check = %+v", be.Check.TCPSteps)
		}
		if be.Timeouts.Client != 10800*time.Second {
			t.Errorf("timeout client = %v", be.Timeouts.Client)
		}
		want := []bool{false, true, true}
		for i, s := range be.Servers {
			if s.CheckPort != 9200 || s.Inter != 2*time.Second || s.DownInter != 5*time.Second || s.FastInter != 2*time.Second ||
				s.Rise != 3 || s.Fall != 2 || s.SlowStart != time.Minute || s.MaxConn != 300 || s.MaxQueue != 128 || s.Weight != 100 || s.Backup != want[i] {
				t.Errorf("server %d = %+v", i, s)
			}
		}
		fe := cfg.Frontends[0]
		if fe.DefaultBackend != be.Name || fe.Binds[0].Address != "198.18.2.4:3306" {
			t.Errorf("listen frontend half = %+v", fe)
		}
	})
	t.Run("002 userlist", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/002-http-stats.cfg")
		ul := cfg.Userlists[0]
		if !ul.Authenticate("admin", "AdminPasswd") || ul.Authenticate("admin", "lbuser") || !ul.InGroup("admin", "admin") || ul.InGroup("lbuser", "admin") || !ul.InGroup("lbuser", "readonly") {
			t.Errorf("userlist = %+v", ul)
		}
		if cfg.Backend("stats").Balance.Algo != "roundrobin" {
			t.Errorf("bare balance must read as roundrobin")
		}
	})
	t.Run("004 l4 inherits defaults", func(t *testing.T) {
		cfg := mustLoad(t, "testdata/seeds/004-l4.cfg")
		be := cfg.Backends[0]
		if be.Mode != ModeTCP || be.Check.Kind != "httpchk" || be.Check.HTTP.Method != "GET" || be.Check.HTTP.URI != "/healthCheck.html" {
			t.Errorf("backend = %+v check %+v", be, be.Check.HTTP)
		}
		if be.Timeouts.Connect != 5*time.Second || !be.Log.TCPLog || len(be.Log.Targets) != 2 {
			t.Errorf("backend timeouts/log = %+v %+v", be.Timeouts, be.Log)
		}
	})
}

// corpusOutcomes records, per corpus file, whether appl loads it ("ok") or refuses it
// only for unsupported features ("unsupported"), and the decoded counts, so that a
// misparse (a lost bind, server or backend) shows as a changed number. "acl" means the
// outcome depends on which fetches proxy/acl implements (ok now, or refused only with
// "unsupported" errors); warnings about acl fetches appl lacks are not counted, so the
// table stays right while proxy/acl grows.
var corpusOutcomes = map[string]struct {
	outcome                         string
	frontends, binds, backends, srv int
	warnings                        int
}{
	// Loaded from testdata/corpus/ (map stand-ins) with HAPROXY_MAXCONN=1000 set.
	"basedflare-ddos-protection.cfg":   {"acl", 3, 3, 5, 2, 21},
	"blockscout-websockets-large.cfg":  {"missing-file", 1, 2, 26, 26, 25}, // alpn h2 served: no warning
	"haproxytech-k8s-ingress-base.cfg": {"acl", 4, 0, 0, 0, 11},
	"haproxytech-ultimate-config.cfg":  {"missing-file", 2, 3, 8, 8, 50}, // alpn h2 served: no warning
	"harisekhon-elasticsearch-acl.cfg": {"ok", 1, 1, 1, 3, 2},
	"harisekhon-global-defaults.cfg":   {"ok", 0, 0, 0, 0, 5},
	"kazoo-couchdb.cfg":                {"ok", 3, 3, 3, 8, 4},
	"keepalived-devtools-ssh-lb.cfg":   {"ok", 2, 2, 2, 2, 4},
	"legacy-static-dynamic-split.cfg":  {"ok", 2, 2, 3, 4, 6},
	"mysql-backup-server.cfg":          {"ok", 2, 2, 2, 2, 5},
	"patroni-tcp-check-resolvers.cfg":  {"ok", 3, 3, 2, 6, 7},
	"rabbitmq-cluster-tcp.cfg":         {"ok", 4, 4, 4, 9, 0},
	"roxywi-peers-prometheus.cfg":      {"ok", 1, 1, 4, 1, 9},
	"socketio-sticky-cookie.cfg":       {"ok", 1, 1, 1, 3, 0},
	"upstream-basic-config-edge.cfg":   {"missing-file", 2, 3, 1, 4, 15},
	"upstream-games-lua.cfg":           {"ok", 1, 1, 0, 0, 3},
	"upstream-mptcp.cfg":               {"ok", 1, 1, 1, 1, 3},
	"upstream-option-http-proxy.cfg":   {"acl", 1, 1, 1, 1, 4},
	"upstream-quick-test.cfg":          {"ok", 1, 1, 1, 1, 1},
	// HAProxy's own address-syntax test declares servers s5 and s3 twice in one listen;
	// `haproxy -c` (2.6) refuses that too ("another server named 's1' was already
	// defined"), and appl identifies servers by name across the pair, so this is the one
	// file refused for a real error. Everything else in it decodes (62 binds, 26 servers).
	"upstream-test-address-syntax.cfg": {"duplicate-server", 16, 62, 11, 26, 0},
	"upstream-test-check-expect.cfg":   {"ok", 1, 1, 11, 10, 0},
	"upstream-transparent-proxy.cfg":   {"ok", 1, 1, 1, 1, 0},
	"upstream-wurfl-example.cfg":       {"ok", 1, 1, 1, 1, 3},
}

func TestCorpus(t *testing.T) {
	dir := "../../../shared/corpus/haproxy"
	files, _ := filepath.Glob(filepath.Join(dir, "*.cfg"))
	if len(files) == 0 {
		t.Skipf("corpus not found at %s (it lives in /work/shared/corpus)", dir)
	}
	if len(files) != len(corpusOutcomes) {
		t.Errorf("%d corpus files, %d in corpusOutcomes", len(files), len(corpusOutcomes))
	}
	lookup := func(k string) (string, bool) {
		if k == "HAPROXY_MAXCONN" {
			return "1000", true
		}
		return "", false
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := corpusOutcomes[name]
			if !ok {
				t.Fatalf("file not listed in corpusOutcomes")
			}
			path := f
			// Stand-ins: this file reads map files under /etc/haproxy/map/.
			if _, err := os.Stat(filepath.Join("testdata/corpus", name)); err == nil {
				path = filepath.Join("testdata/corpus", name)
			}
			cfg, err := load(path, Options{Lookup: lookup})
			outcome := "ok"
			if err != nil {
				es := AsErrorList(err)
				if len(es) == 0 {
					t.Fatalf("unpositioned error: %v", err)
				}
				outcome = "unsupported"
				for _, e := range es {
					if !IsUnsupported(e) {
						outcome = "error"
						if strings.Contains(e.Msg, "duplicate server name") {
							outcome = "duplicate-server"
						}
						// A certificate the file names but the corpus does not ship:
						// haproxy -c refuses it the same way.
						if strings.Contains(e.Msg, "no such file or directory") {
							outcome = "missing-file"
						}
						t.Logf("error: %v", e)
					}
				}
			}
			if want.outcome == "acl" && (outcome == "ok" || outcome == "unsupported") {
				outcome = "acl"
			}
			if outcome != want.outcome {
				t.Errorf("outcome %q, want %q (%v)", outcome, want.outcome, err)
			}
			bn, srv := 0, 0
			for _, fe := range cfg.Frontends {
				bn += len(fe.Binds)
			}
			for _, be := range cfg.Backends {
				srv += len(be.Servers)
			}
			nw := 0
			for _, w := range cfg.Warnings {
				if !strings.HasPrefix(w.Msg, "unsupported acl ") {
					nw++
				}
			}
			if len(cfg.Frontends) != want.frontends || bn != want.binds || len(cfg.Backends) != want.backends || srv != want.srv || nw != want.warnings {
				t.Errorf("decoded fe=%d binds=%d be=%d srv=%d warnings=%d, want %+v", len(cfg.Frontends), bn, len(cfg.Backends), srv, nw, want)
				for _, w := range cfg.Warnings {
					t.Log(w)
				}
			}
		})
	}
}
