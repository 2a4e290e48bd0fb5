package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"appl/internal/cfgfile"
)

func decodeString(t *testing.T, src string) (*Config, error) {
	t.Helper()
	f, err := cfgfile.Parse("t.cfg", []byte(src), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("lexer: %v", err)
	}
	return decode(f, Options{BaseDir: "testdata"})
}

const base = "defaults\n mode tcp\n timeout client 1s\n"

// Each directive's decoding, read back from the model.
func TestDirectiveDecoding(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(*Config) bool
	}{
		{"timeout units", base + "backend b\n timeout connect 1500\n timeout server 2m\n timeout queue 3s\n timeout tunnel 1h\n timeout check 100ms\n timeout server-fin 1d\n",
			func(c *Config) bool {
				to := c.Backends[0].Timeouts
				return to.Connect == 1500*time.Millisecond && to.Server == 2*time.Minute && to.Queue == 3*time.Second &&
					to.Tunnel == time.Hour && to.Check == 100*time.Millisecond && to.ServerFin == 24*time.Hour
			}},
		{"legacy timeouts map", "backend b\n contimeout 5000\n srvtimeout 10s\n",
			func(c *Config) bool {
				return c.Backends[0].Timeouts.Connect == 5*time.Second && c.Backends[0].Timeouts.Server == 10*time.Second
			}},
		{"bind forms", "frontend f\n bind :80\n bind *:81,:82\n bind [::]:83 v6only\n bind :::84\n bind 0.0.0.0:90-92 accept-proxy name n\n bind ipv6@:85\n bind unix@/run/x.sock\n bind /run/y.sock\n",
			func(c *Config) bool {
				var got []string
				for _, b := range c.Frontends[0].Binds {
					got = append(got, b.Network+" "+b.Address)
				}
				want := "tcp4 0.0.0.0:80|tcp4 0.0.0.0:81|tcp4 0.0.0.0:82|tcp6 [::]:83|tcp [::]:84|tcp4 0.0.0.0:90|tcp4 0.0.0.0:91|tcp4 0.0.0.0:92|tcp [::]:85|unix /run/x.sock|unix /run/y.sock"
				b := c.Frontends[0].Binds[5]
				return strings.Join(got, "|") == want && b.AcceptProxy && b.Name == "n" && c.Frontends[0].Binds[3].V6Only
			}},
		{"legacy inline bind", "listen l :35000,198.18.0.1:35001\n server s 1::1:80\n",
			func(c *Config) bool {
				s := c.Backends[0].Servers[0]
				return len(c.Frontends[0].Binds) == 2 && c.Frontends[0].Binds[1].Address == "198.18.0.1:35001" && s.Address == "1::1" && s.Port == 80
			}},
		{"server address forms", "backend b\n server a 1.1.1.1\n server b 1.1.1.1:+1\n server c [::1]:8080\n server d localhost:80\n server e unix@/run/s\n",
			func(c *Config) bool {
				s := c.Backends[0].Servers
				return s[0].Port == 0 && s[1].Port == 1 && s[1].PortOffset && s[2].Address == "::1" && s[2].Port == 8080 &&
					s[3].Address == "localhost" && s[4].Address == "unix@/run/s"
			}},
		{"default-server then server override", "backend b\n default-server inter 3s fall 5 weight 7 check\n server a 198.18.0.1:80 weight 9 no-check fastinter 1s\n",
			func(c *Config) bool {
				s := c.Backends[0].Servers[0]
				return s.Inter == 3*time.Second && s.Fall == 5 && s.Weight == 9 && !s.Check && s.FastInter == time.Second && s.DownInter == 3*time.Second
			}},
		{"server flags", "backend b\n server a 198.18.0.1:80 backup disabled send-proxy-v2 on-marked-up shutdown-backup-sessions addr 198.18.0.9 port 81 source 198.18.0.2:1000-1010 usesrc clientip ssl verify none\n",
			func(c *Config) bool {
				s := c.Backends[0].Servers[0]
				return s.Backup && s.Disabled && s.SendProxyV2 && s.OnMarkedUp == "shutdown-backup-sessions" && s.CheckAddr == "198.18.0.9" &&
					s.CheckPort == 81 && s.Source.Port == 1000 && s.Source.PortMax == 1010 && s.Source.UseSrc == "clientip" &&
					s.SSL && s.Verify == "none" && s.TLS != nil && len(s.Options) == 0
			}},
		{"balance and hash-type", "backend b\n balance source\n hash-type consistent\nbackend c\n mode http\n balance hdr(Host)\nbackend d\n balance url_param id\n mode http\n",
			func(c *Config) bool {
				return c.Backends[0].Balance.Algo == "source" && c.Backends[0].Balance.HashType == "consistent" &&
					c.Backends[1].Balance.Algo == "hdr" && c.Backends[1].Balance.Param == "Host" && c.Backends[2].Balance.Param == "id"
			}},
		{"tcp-check steps", "backend b\n option tcp-check\n tcp-check connect port 8008 send-proxy\n tcp-check send PING\\r\\n\n tcp-check send-binary 0d0a\n tcp-check expect ! rstring ^-ERR\n tcp-check expect binary 2b4f4b\n",
			func(c *Config) bool {
				st := c.Backends[0].Check.TCPSteps
				return c.Backends[0].Check.Kind == "tcp-check" && len(st) == 5 && st[0].Port == 8008 && st[0].SendProxy &&
					string(st[1].Data) == "PING\r\n" && string(st[2].Data) == "\r\n" && st[3].Negate && st[3].Match == "rstring" && st[4].Pattern == "+OK"
			}},
		{"http-check", "backend b\n option httpchk HEAD /health HTTP/1.1\n http-check send hdr Host example.org\n http-check expect status 200\n",
			func(c *Config) bool {
				h := c.Backends[0].Check.HTTP
				return c.Backends[0].Check.Kind == "httpchk" && h.Method == "HEAD" && h.URI == "/health" && h.Headers[0] == [2]string{"Host", "example.org"} && h.Expect[0].Pattern == "200"
			}},
		{"named defaults and from", "defaults a\n timeout client 7s\n mode http\ndefaults\n timeout client 9s\nfrontend f from a\n bind :1\nfrontend g\n bind :2\n",
			func(c *Config) bool {
				return c.Frontends[0].Timeouts.Client == 7*time.Second && c.Frontends[0].Mode == ModeHTTP &&
					c.Frontends[1].Timeouts.Client == 9*time.Second && c.Frontends[1].Mode == ModeTCP
			}},
		{"last defaults wins, named or not", "defaults\n retries 5\ndefaults http\n retries 7\nbackend b\n",
			func(c *Config) bool { return c.Backends[0].Retries == 7 }},
		{"log global resolved", "global\n log stdout format raw local0\n log 198.18.0.1:1514 daemon info notice\ndefaults\n log global\n option dontlognull\nbackend b\n log /dev/log local1\n",
			func(c *Config) bool {
				l := c.Backends[0].Log
				return len(l.Targets) == 3 && l.Targets[0].Address == "stdout" && l.Targets[0].Format == "raw" && l.Targets[1].Address == "udp:198.18.0.1:1514" &&
					l.Targets[1].MinLevel == "notice" && l.Targets[2].Address == "unix:/dev/log" && l.DontLogNull
			}},
		{"global settings", "global\n maxconn 100\n nbthread 2\n hard-stop-after 30s\n ulimit-n 4096\n tune.bufsize 32k\n stats socket /run/a.sock mode 600 level admin\n stats socket ipv4@127.0.0.1:9999\n stats timeout 3000\n stats maxconn 20\n",
			func(c *Config) bool {
				g := c.Global
				return g.StatsTimeout == 3*time.Second && g.StatsMaxConn == 20 && g.MaxConn == 100 && g.NbThread == 2 && g.HardStopAfter == 30*time.Second && g.UlimitN == 4096 && g.TuneBufSize == 32768 &&
					len(g.StatsSockets) == 2 && g.StatsSockets[0].Mode == 0o600 && g.StatsSockets[0].Level == "admin" && g.StatsSockets[1].Level == "operator"
			}},
		{"options and no option", "defaults\n option redispatch\n option allbackups\nbackend b\n no option redispatch\n option tcpka\n",
			func(c *Config) bool {
				b := c.Backends[0]
				return !b.Redispatch && b.AllBackups && b.Options["tcpka"] && !b.Options["redispatch"]
			}},
		{"use_backend with acl", "frontend f\n bind :1\n acl lan src 198.18.0.0/15\n use_backend a if lan\n use_backend b unless { dst_port 80 }\n default_backend b\nbackend a\nbackend b\n",
			func(c *Config) bool {
				u := c.Frontends[0].UseBackends
				return len(u) == 2 && u[0].Backend == "a" && u[0].Cond != nil && u[1].Cond != nil && c.Frontends[0].DefaultBackend == "b"
			}},
		{"raw rules kept in order", "frontend f\n bind :1\n tcp-request connection reject if { src 198.18.0.1 }\n stick-table type ip size 1k\n",
			func(c *Config) bool { r := c.Frontends[0].Rules; return len(r) == 2 && r[1].Keyword() == "stick-table" }},
		{"frontend and backend may share a name", "frontend x\n bind :1\n default_backend x\nbackend x\n mode tcp\n",
			func(c *Config) bool { return c.Frontends[0].DefaultBackend == "x" && c.Backend("x") != nil }},
		{"appl sections skipped", "vrrp v1\n interface eth0\ncluster\n node a\nbackend b\n",
			func(c *Config) bool { return len(c.Backends) == 1 && len(c.Warnings) == 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := decodeString(t, tc.src)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !tc.check(cfg) {
				t.Errorf("decoded wrongly: fe=%+v be=%+v", cfg.Frontends, cfg.Backends)
				for _, b := range cfg.Backends {
					for _, s := range b.Servers {
						t.Logf("server %+v", s)
					}
				}
			}
		})
	}
}

// Every error shape: file:line: directive: problem (expected ...).
func TestErrorMessages(t *testing.T) {
	tests := []struct{ src, want string }{
		{"global\n maxconn lots\n", `t.cfg:2: maxconn: "lots" is not a number (expected a connection count)`},
		{"global\n nbthrad 4\n", `t.cfg:2: nbthrad: unknown keyword in global section (did you mean "nbthread"?)`},
		{"global\n frobnicate\n", `t.cfg:2: frobnicate: unknown keyword in global section (expected a directive listed in docs/configuration.md)`},
		{"global\n log 127.0.0.1 local9\n", `t.cfg:2: log: unknown facility "local9"`},
		{"global\n hard-stop-after 5x\n", `t.cfg:2: hard-stop-after: bad time unit in "5x" (expected a time such as 30s or 5m)`},
		{"backend b\n timeout server 5q\n", `t.cfg:2: timeout: timeout server: bad time unit in "5q"`},
		{"backend b\n timeout sever 5s\n", `t.cfg:2: timeout: unknown timeout "sever" (did you mean "server"?)`},
		{"frontend f\n bind 198.18.0.1\n", `t.cfg:2: bind: missing port in "198.18.0.1"`},
		{"frontend f\n bind :99999\n", `t.cfg:2: bind: bad port "99999"`},
		{"frontend f\n bind :90-80\n", `t.cfg:2: bind: bad port range "90-80" (expected LOW-HIGH with LOW <= HIGH)`},
		{"frontend f\n bind :80 transparant\n", `t.cfg:2: bind: unknown bind option "transparant" (did you mean "transparent"?)`},
		{"frontend f\n bind 300.1.1.1:80\n", `t.cfg:2: bind: bad host "300.1.1.1"`},
		{"frontend f\n bind :80\n default_backend nope\nbackend yes\n", `t.cfg:3: default_backend: no backend named "nope"`},
		{"frontend f\n bind :80\n use_backend bak\nbackend bk\n", `t.cfg:3: use_backend: no backend named "bak" (did you mean "bk"?)`},
		{"frontend f\n bind :80\n use_backend bk when x\nbackend bk\n", `t.cfg:3: use_backend: unexpected "when" after the backend (expected if COND or unless COND)`},
		{"backend b\n server a 198.18.0.1:80\n server a 198.18.0.2:80\n", `t.cfg:3: server: duplicate server name "a" in backend "b" (first at t.cfg:2;`},
		{"backend b\n server a 198.18.0.1:80 weight 300\n", `t.cfg:2: server: weight: 300 out of range 0..256`},
		{"backend b\n server a 198.18.0.1:80 chek\n", `t.cfg:2: server: unknown server option "chek" (did you mean "check"?)`},
		{"backend b\n server a\n", `t.cfg:2: server: needs a name and an address (expected server NAME ADDR[:PORT] [options])`},
		{"backend b\n server a 198.18.0.1:80 inter\n", `t.cfg:2: server: server option "inter" needs a value`},
		{"backend b\n server a 198.18.0.1:80 on-marked-down kill\n", `t.cfg:2: server: on-marked-down: unknown action "kill" (expected shutdown-sessions)`},
		{"backend b\n balance roundrobbin\n", `t.cfg:2: balance: unknown algorithm "roundrobbin" (did you mean "roundrobin"?)`},
		{"backend b\n hash-type magic\n", `t.cfg:2: hash-type: unknown hash method "magic" (expected map-based or consistent)`},
		{"backend b\n option redispach\n", `t.cfg:2: option: unknown option "redispach" (did you mean "redispatch"?)`},
		{"backend b\n mode udp\n", `t.cfg:2: mode: unknown mode "udp" (expected tcp or http)`},
		{"backend b\n tcp-check expect string\n", `t.cfg:2: tcp-check: tcp-check expect needs a match and a pattern`},
		{"backend b\n tcp-check expect rstring (\n", `t.cfg:2: tcp-check: unsupported regular expression "("`},
		{"backend b\n tcp-check send-binary 0g\n", `t.cfg:2: tcp-check: tcp-check send-binary: bad hex digit in 0g (expected hexadecimal digits)`},
		{"backend b\n tcp-check dance\n", `t.cfg:2: tcp-check: unknown tcp-check action "dance"`},
		{"defaults\n server a 198.18.0.1:80\n", `t.cfg:2: server: not allowed in a defaults section (expected it in a backend or listen section)`},
		{"defaults\n bind :80\n", `t.cfg:2: bind: not allowed in a defaults section (expected it in a frontend or listen section)`},
		{"frontend f from nope\n bind :80\n", `t.cfg:1: frontend: no defaults section named "nope" before this line`},
		{"frontend f\n bind :80\nfrontend f\n bind :81\n", `t.cfg:3: frontend: name "f" already used by the frontend at t.cfg:1`},
		{"backend b\nlisten b\n bind :81\n", `t.cfg:2: listen: name "b" already used by the backend at t.cfg:1`},
		{"frontend f\n bind :80\n acl a src 198.18.0.1\nbackend b\n mode http\nfrontend h\n mode http\n bind :81\n default_backend t\nbackend t\n", `t.cfg:9: default_backend: backend "t" is in mode tcp but frontend "h" is in mode http`},
		{"userlist u\n user a password clear\n", `t.cfg:2: user: password must be a crypt(3) hash such as $6$... (expected ` + "`insecure-password`" + ` for clear text)`},
		{"userlist u\n user a insecure-password x groups g\n", `t.cfg:1: user: user a is in undeclared group g`},
		{"global\n stats socket /run/s level root\n", `t.cfg:2: stats: stats socket level "root" (expected admin, operator or user)`},
		{"global\n stats timeout soon\n", `t.cfg:2: stats: stats timeout "soon" is not a positive time (expected e.g. 30s or 2m)`},
		{"global\n stats maxconn 0\n", `t.cfg:2: stats: stats maxconn "0" is not a positive number`},
		{"backend b\n stats enabel\n", `t.cfg:2: stats: unknown stats keyword "enabel" (did you mean "enable"?)`},
		{"backend b\n tcp-request foo accept\n", `t.cfg:2: tcp-request: unknown tcp-request ruleset "foo"`},
		{"frontend f\n bind :1\n acl a srcx 1.2.3.4\n", `t.cfg:3: acl: acl a: unknown fetch "srcx"`},
	}
	for _, tc := range tests {
		_, err := decodeString(t, tc.src)
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.src, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}

// Unsupported directives and legacy forms warn, never fail, and name the directive.
func TestWarnings(t *testing.T) {
	tests := []struct{ src, want string }{
		{"global\n lua-load x.lua\n", "t.cfg:2: lua-load: unsupported directive (appl does not implement lua-load yet; see docs/compatibility.md)"},
		{"global\n tune.ssl.default-dh-param 2048\n", "t.cfg:2: tune.ssl.default-dh-param: ignored: Go offers no DHE key exchange"},
		{"global\n tune.ssl.cachesize 2048\n", "appl does not implement tune.ssl.cachesize yet"},
		{"global\n nbproc 2\n", "t.cfg:2: nbproc: ignored: appl runs one process with threads (use nbthread)"},
		{"backend b\n option mysql-check user x\n", "appl does not implement option mysql-check yet"},
		{"backend b\n server a 198.18.0.1:80 resolvers dns\n", "appl does not implement server option resolvers yet"},
		{"frontend f\n bind :80 crt-list l.txt\n", "appl does not implement bind crt-list yet"},
		{"backend b\n clitimeout 10\n", "deprecated: read as `timeout client`"},
		{"resolvers dns\n nameserver a 127.0.0.1:53\n", "t.cfg:1: resolvers: unsupported section"},
		{"peers p\n peer a 127.0.0.1:1\n", "t.cfg:1: peers: unsupported section (appl replicates stick tables through its cluster section"},
		{"frontend f\n bind :80\n option forwardfor\n", `option forwardfor requires mode http; ignored by tcp frontend "f"`},
		{"backend b\n balance uri\n", `balance uri requires mode http; tcp backend "b" uses roundrobin`},
		{"frontend f\n bind :80\n http-request deny\n http-request deny\n", `t.cfg:3: http-request: http-request requires mode http; ignored by tcp frontend "f"`},
		{"frontend f\n", `t.cfg:1: frontend: frontend "f" has no bind line: it accepts no connection`},
		{"frontend f\n bind :80\n reqirep ^Host:\\ a Host:\\ b\n", "appl does not implement reqirep yet"},
	}
	for _, tc := range tests {
		cfg, err := decodeString(t, tc.src)
		if err != nil {
			t.Errorf("%q: error %v", tc.src, err)
			continue
		}
		found := false
		for _, w := range cfg.Warnings {
			found = found || strings.Contains(w.Error(), tc.want)
		}
		if !found {
			t.Errorf("%q: warnings %v, want %q", tc.src, cfg.Warnings, tc.want)
		}
	}
	// One not-served warning per kind and section; mode http and its rules are served.
	cfg, _ := decodeString(t, "frontend f\n mode http\n bind :80\n http-request deny\n http-request deny\n http-after-response set-header A b\n http-after-response set-header C d\n")
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Error(), "t.cfg:6: http-after-response: parsed, not served yet") {
		t.Errorf("want one warning, got %v", cfg.Warnings)
	}
}

func TestCheckOutput(t *testing.T) {
	var b strings.Builder
	_, w, err := Check("testdata/seeds/002-mysql.cfg")
	if code := WriteCheck(&b, w, err); code != 0 || !strings.HasSuffix(b.String(), "Configuration file is valid\n") ||
		!strings.HasPrefix(b.String(), "[WARNING] testdata/seeds/002-mysql.cfg:9: option: unsupported directive") {
		t.Errorf("exit %d, output:\n%s", code, b.String())
	}
	b.Reset()
	_, w, err = Check("testdata/nonexistent.cfg")
	if code := WriteCheck(&b, w, err); code != 1 || !strings.Contains(b.String(), "[ALERT]") || !strings.Contains(b.String(), "Fatal errors found in configuration.") {
		t.Errorf("exit %d, output:\n%s", code, b.String())
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("frontend f\n bind :80-90,[::]:1 transparent\n use_backend b if { src 1.2.3.4 }\nbackend b\n server s 1::1:+1 check inter 1s source :1-2 usesrc clientip\n")
	f.Add("defaults d\n timeout client 1s\nlisten l :1 from d\n balance hdr(x)\n tcp-check expect ! binary 00\n")
	f.Fuzz(func(t *testing.T, src string) {
		file, err := cfgfile.Parse("f.cfg", []byte(src), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
		if err != nil {
			return
		}
		_, _ = decode(file, Options{BaseDir: "testdata/seeds"})
	})
}

func TestCheckNotes(t *testing.T) {
	_, w, err := Check("../../../shared/corpus/haproxy/upstream-games-lua.cfg")
	if _, statErr := os.Stat("../../../shared/corpus/haproxy/upstream-games-lua.cfg"); statErr != nil {
		t.Skip("corpus absent")
	}
	if err != nil || len(w) == 0 || !strings.HasPrefix(w[0], "[NOTICE] ../../../shared/corpus/haproxy/upstream-games-lua.cfg:11: use \"socat") {
		t.Errorf("notes not printed first: %v %q", err, w)
	}
}

// docs/compatibility.md must name every keyword of the Unsupported table.
func TestCompatibilityDocCoversUnsupported(t *testing.T) {
	doc, err := os.ReadFile("../../docs/compatibility.md")
	if err != nil {
		t.Fatalf("docs/compatibility.md: %v", err)
	}
	for kind, names := range Unsupported {
		for n := range names {
			if !strings.Contains(string(doc), "`"+n+"`") {
				t.Errorf("docs/compatibility.md does not list %s keyword %q", kind, n)
			}
		}
	}
}
