package stats

import (
	"strings"
	"testing"

	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/http1"
)

func TestParseAdminForm(t *testing.T) {
	f, err := ParseAdminForm("s=a&s=b%20c&s=a&action=drain&b=%233&x=1&&")
	if err != nil || f.Backend != "#3" || strings.Join(f.Servers, "|") != "a|b c" || f.State != AdminDrain {
		t.Fatalf("%+v %v", f, err)
	}
	f, err = ParseAdminForm("b=be&s=x&action=weight&w=50")
	if err != nil || f.Weight != 50 || f.Action != "weight" {
		t.Fatalf("%+v %v", f, err)
	}
	bad := map[string]error{
		"b=be&s=x&action=hdown":       errFormAction,
		"b=be&s=x&action=weight&w=-1": errFormSyntax,
		"b=be&s=x&action=weight":      errFormSyntax,
		"b=be&s=%zz&action=ready":     errFormSyntax,
		"b=be&action=ready":           errFormMissing,
		"s=x&action=ready":            errFormMissing,
		"b=be&s=x":                    errFormMissing,
		strings.Repeat("s=x&", 5000):  errFormTooLarge,
		"":                            errFormMissing,
	}
	for in, want := range bad {
		if _, err := ParseAdminForm(in); err != want {
			t.Errorf("%.40q: %v, want %v", in, err, want)
		}
	}
}

func FuzzParseAdminForm(f *testing.F) {
	for _, s := range []string{"s=a&action=maint&b=%231", "b=be&s=x&action=weight&w=50", "s=%zz", "&&=&", "action=ready&b=x&s=" + strings.Repeat("y", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		form, err := ParseAdminForm(in)
		if err != nil {
			return
		}
		if form.Backend == "" || len(form.Servers) == 0 || len(form.Servers) > maxFormServers {
			t.Fatalf("accepted form %+v from %q", form, in)
		}
		seen := map[string]bool{}
		for _, s := range form.Servers {
			if s == "" || seen[s] {
				t.Fatalf("empty or duplicate server in %+v", form)
			}
			seen[s] = true
		}
		switch form.Action {
		case "ready", "drain", "maint":
			if form.State == 0 {
				t.Fatalf("state not set: %+v", form)
			}
		case "weight":
			if form.Weight < 0 || form.Weight > 256 {
				t.Fatalf("weight %d", form.Weight)
			}
		default:
			t.Fatalf("action %q accepted", form.Action)
		}
	})
}

// FuzzRespond feeds arbitrary requests to seed 002's page: no panic, and every answer is
// a complete response whose Content-Length matches its body.
func FuzzRespond(f *testing.F) {
	cfg, err := config.Load("../config/testdata/seeds/002-http-stats.cfg")
	if err != nil {
		f.Fatal(err)
	}
	p := New("stats", cfg.Backend("stats").Stats, nil, seedSource())
	auth := "Authorization: Basic " + b64("admin:AdminPasswd") + "\r\n"
	for _, s := range []string{
		"GET /haproxy_stats HTTP/1.1\r\nHost: a\r\n" + auth + "\r\n",
		"GET /haproxy_stats;csv;up;no-maint;st=DONE HTTP/1.1\r\nHost: a\r\n" + auth + "\r\n",
		"POST /haproxy_stats?b=%231&s=x&action=maint HTTP/1.1\r\nHost: a\r\nOrigin: http://a\r\n" + auth + "\r\n",
		"POST /haproxy_stats HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n" + auth + "\r\n",
		"GET /haproxy_stats HTTP/1.1\r\nHost: a\r\nAuthorization: Basic !!!\r\n\r\n",
	} {
		f.Add([]byte(s), []byte("s=http_srv-1&action=drain&b=%231"))
	}
	f.Fuzz(func(t *testing.T, raw, body []byte) {
		req := new(http1.Request)
		if _, err := req.Parse(raw, http1.Limits{}); err != nil {
			return
		}
		txn := &acl.Txn{HTTP: reqView{req}, Env: aclEnv{cfg}}
		for _, withBody := range []bool{false, true} {
			var out []byte
			var handled bool
			if withBody {
				out, _, handled = p.RespondBody(nil, req, body, txn)
			} else {
				out, _, handled = p.Respond(nil, req, txn)
			}
			if !handled {
				continue
			}
			var resp http1.Response
			n, err := resp.Parse(out, http1.Limits{MaxHead: len(out) + 1})
			if err != nil {
				t.Fatalf("unparsable response %q: %v", out, err)
			}
			if cl := resp.ContentLength(); !req.IsMethod("HEAD") && cl != int64(len(out)-n) {
				t.Fatalf("content-length %d for %d body bytes", cl, len(out)-n)
			}
		}
	})
}
