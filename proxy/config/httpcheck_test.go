package config

import (
	"slices"
	"strings"
	"testing"
)

// option httpchk and http-check lines decoded into the model.
func TestHTTPCheckDecoding(t *testing.T) {
	tests := []struct {
		name, src string
		check     func(*CheckSpec) bool
	}{
		{"seed 004 form in defaults", "defaults\n mode tcp\n option httpchk GET /healthCheck.html\nbackend b\n",
			func(c *CheckSpec) bool {
				h := c.HTTP
				return c.Kind == "httpchk" && h.Method == "GET" && h.URI == "/healthCheck.html" && h.Version == "HTTP/1.0" && len(h.Headers) == 0 && len(h.Expect) == 0
			}},
		{"bare", "backend b\n option httpchk\n",
			func(c *CheckSpec) bool {
				return c.HTTP.Method == "OPTIONS" && c.HTTP.URI == "/" && c.HTTP.Version == "HTTP/1.0"
			}},
		{"old form: URI only", "backend b\n option httpchk /ping\n",
			func(c *CheckSpec) bool { return c.HTTP.Method == "OPTIONS" && c.HTTP.URI == "/ping" }},
		{"version hack", "backend b\n option httpchk GET /x HTTP/1.1\\r\\nHost:\\ www.example.com\\r\\nUser-Agent:\\ foo\n",
			func(c *CheckSpec) bool {
				h := c.HTTP
				return h.Version == "HTTP/1.1" && slices.Equal(h.Headers, [][2]string{{"Host", "www.example.com"}, {"User-Agent", "foo"}}) && h.Body == ""
			}},
		{"version hack with body", "backend b\n option httpchk POST /x HTTP/1.0\\r\\nContent-Type:\\ text/plain\\r\\n\\r\\nping\n",
			func(c *CheckSpec) bool {
				h := c.HTTP
				return h.Version == "HTTP/1.0" && slices.Equal(h.Headers, [][2]string{{"Content-Type", "text/plain"}}) && h.Body == "ping"
			}},
		{"send", "backend b\n option httpchk\n http-check send meth POST uri /p?q=1 ver HTTP/1.1 hdr Host h.example hdr X-A \"b c\" body \"abc def\" comment x\n",
			func(c *CheckSpec) bool {
				h := c.HTTP
				return h.Method == "POST" && h.URI == "/p?q=1" && h.Version == "HTTP/1.1" && h.Body == "abc def" &&
					slices.Equal(h.Headers, [][2]string{{"Host", "h.example"}, {"X-A", "b c"}})
			}},
		{"expects in order", "backend b\n option httpchk\n http-check expect status 200-399,404\n http-check expect ! rstatus ^5\n http-check expect string ok\n http-check expect ! rstring err(or)?\n",
			func(c *CheckSpec) bool {
				return slices.Equal(c.HTTP.Expect, []HTTPExpect{{false, "status", "200-399,404"}, {true, "rstatus", "^5"}, {false, "string", "ok"}, {true, "rstring", "err(or)?"}})
			}},
		{"flags and connect", "backend b\n option httpchk\n http-check disable-on-404\n http-check send-state\n http-check connect port 8080 send-proxy\n http-check comment hi\n",
			func(c *CheckSpec) bool {
				h := c.HTTP
				return h.DisableOn404 && h.SendState && h.ConnectPort == 8080 && h.ConnectSendProxy
			}},
		{"http-check before option httpchk keeps applying", "backend b\n http-check expect status 204\n option httpchk GET /h\n",
			func(c *CheckSpec) bool { return c.Kind == "httpchk" && c.HTTP.URI == "/h" && len(c.HTTP.Expect) == 1 }},
		{"defaults' expects inherited, backend option changes the request", "defaults\n option httpchk\n http-check expect status 200\nbackend b\n option httpchk HEAD /x\n",
			func(c *CheckSpec) bool { return c.HTTP.Method == "HEAD" && len(c.HTTP.Expect) == 1 }},
		{"own expect rules replace the defaults' ones", "defaults\n option httpchk GET /h\n http-check send hdr Host a\n http-check expect status 200\n http-check disable-on-404\nbackend b\n http-check expect string ok\n",
			func(c *CheckSpec) bool {
				h := c.HTTP
				return h.URI == "/h" && len(h.Headers) == 0 && h.DisableOn404 && slices.Equal(h.Expect, []HTTPExpect{{false, "string", "ok"}})
			}},
		{"no option httpchk", "defaults\n option httpchk\nbackend b\n no option httpchk\n",
			func(c *CheckSpec) bool { return c.Kind == "tcp" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := decodeString(t, tc.src)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			c := &cfg.Backends[0].Check
			if c.HTTP == nil || !tc.check(c) {
				t.Errorf("decoded wrongly: %+v %+v", c, c.HTTP)
			}
			for _, w := range cfg.Warnings {
				if strings.Contains(w.Error(), "not served yet") {
					t.Errorf("HTTP checks are served now, got %v", w)
				}
			}
		})
	}
}

func TestHTTPCheckErrorsAndWarnings(t *testing.T) {
	errs := []struct{ src, want string }{
		{"backend b\n http-check expect status abc\n", `t.cfg:2: http-check: http-check expect status "abc": expected codes or ranges of 100..599`},
		{"backend b\n http-check expect status 399-200\n", `expected codes or ranges`},
		{"backend b\n http-check expect rstring (\n", `t.cfg:2: http-check: unsupported regular expression "("`},
		{"backend b\n http-check expect hdr name x\n", `unsupported http-check expect hdr`},
		{"backend b\n http-check expect string a b\n", `http-check expect string takes one pattern, got "a b"`},
		{"backend b\n http-check expect\n", `http-check expect needs a match and a pattern`},
		{"backend b\n http-check send meth\n", `http-check send meth needs a value`},
		{"backend b\n http-check send hdr X-A\n", `http-check send hdr needs a value`},
		{"backend b\n http-check send hdr X-A a\\r\\nInjected:\\ 1\n", `http check header "X-A: a\r\nInjected: 1": invalid name or value`},
		{"backend b\n http-check send uri /a\\ b\n", `http check request line part "/a b"`},
		{"backend b\n http-check connect port 0\n", `http-check connect port "0" (expected 1..65535)`},
		{"backend b\n http-check connect frob\n", `unknown http-check connect option "frob"`},
		{"backend b\n http-check dance\n", `unknown http-check action "dance"`},
		{"backend b\n http-check expect status 200\n http-check connect port 80\n", `t.cfg:3: http-check: http-check connect must come before the send and expect lines`},
		{"backend b\n option httpchk GET /x HTTP/1.1\\r\\nnocolon\n", `header "nocolon" after the version is not`},
	}
	for _, tc := range errs {
		_, err := decodeString(t, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	warns := []struct{ src, want string }{
		{"backend b\n option httpchk GET /x HTTP/1.1\\r\\nHost:\\ a\n", "t.cfg:2: option: hiding headers or body at the end of the version string is deprecated"},
		{"backend b\n http-check connect via-socks4\n", "appl does not implement http-check connect via-socks4 yet"},
		{"backend b\n http-check connect port 80 alpn h2\n", "appl does not implement http-check connect alpn yet"},
		{"backend b\n http-check send uri-lf /%[var(x)]\n", "appl does not implement http-check send uri-lf yet"},
		{"backend b\n http-check expect min-recv 10 string x\n", "appl does not implement http-check expect min-recv yet"},
		{"backend b\n http-check set-var(check.x) str(a)\n", "appl does not implement http-check set-var"},
		{"defaults\n http-check expect status 200\nbackend b\n", `t.cfg:2: http-check: backend "b" uses http-check rules without ` + "`option httpchk`" + `, so the rules are ignored`},
	}
	for _, tc := range warns {
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
}
