package stats

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/proxy/acl"
	"appl/proxy/httpmode"
)

// statsBackend is a data-plane backend whose stats page answers through the Responder
// contract; it has no server.
type statsBackend struct {
	*Page
	name string
}

func (b statsBackend) Name() string { return b.name }
func (b statsBackend) Pick(context.Context, httpmode.HashKey, string) (httpmode.Server, httpmode.PickInfo, error) {
	return nil, httpmode.PickInfo{}, httpmode.ErrNoServer
}

type engineEnv struct {
	be   statsBackend
	mu   sync.Mutex
	logs []string
}

func (e *engineEnv) Backend(name string) (httpmode.Backend, bool) {
	if name == e.be.name {
		return e.be, true
	}
	return nil, false
}

func (e *engineEnv) Log(l *httpmode.LogEntry) {
	e.mu.Lock()
	e.logs = append(e.logs, l.Backend+"/"+l.Server+" "+itoa(l.Status))
	e.mu.Unlock()
}

// Seed 002's stats listen served by the real http engine on loopback, asked by
// net/http's client.
func TestSeed002ThroughHTTPEngine(t *testing.T) {
	cfg := loadSeed(t, "002-http-stats.cfg")
	prog, err := httpmode.Compile(cfg, httpmode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fe := prog.Frontend("stats")
	if fe == nil {
		t.Fatal("no http frontend stats")
	}
	src := seedSource()
	env := &engineEnv{be: statsBackend{New("stats", cfg.Backend("stats").Stats, nil, src), "stats"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				fe.Serve(ctx, c, time.Now(), env, &acl.Txn{FrontendName: "stats", Env: aclEnv{cfg}})
				c.Close()
			}()
		}
	}()
	base := "http://" + ln.Addr().String() + "/haproxy_stats"
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, url, user, pass string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, _ := call("GET", base, "", "")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="HAProxy Statistics"` {
		t.Fatalf("no auth: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ = call("GET", base, "admin", "nope"); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp, body := call("GET", base, "lbuser", "lbuser")
	if resp.StatusCode != 200 || !strings.Contains(body, "http_srv-2") || strings.Contains(body, `name="action"`) {
		t.Fatalf("read-only page: %d", resp.StatusCode)
	}
	if resp, _ = call("POST", base+"?b=%231&s=http_srv-1&action=maint", "lbuser", "lbuser"); resp.StatusCode != 403 {
		t.Fatalf("read-only POST: %d", resp.StatusCode)
	}
	resp, _ = call("POST", base+"?b=%231&s=http_srv-1&action=maint", "admin", "AdminPasswd")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/haproxy_stats;st=DONE" {
		t.Fatalf("admin POST: %d %v", resp.StatusCode, resp.Header)
	}
	if c := src.Calls(); len(c) != 1 || c[0] != "state haproxy_10.2.2.5_80/http_srv-1 maint" {
		t.Fatalf("calls %v", c)
	}
	// A browser's form: the body, with the page as Origin.
	freq, _ := http.NewRequest("POST", base, strings.NewReader("s=http_srv-2&action=drain&b=%231"))
	freq.SetBasicAuth("admin", "AdminPasswd")
	freq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	freq.Header.Set("Origin", "http://"+ln.Addr().String())
	fresp, err := client.Do(freq)
	if err != nil {
		t.Fatal(err)
	}
	fresp.Body.Close()
	if fresp.StatusCode != 303 || fresp.Header.Get("Location") != "/haproxy_stats;st=DONE" {
		t.Fatalf("form POST: %d %v", fresp.StatusCode, fresp.Header)
	}
	if c := src.Calls(); len(c) != 2 || c[1] != "state haproxy_10.2.2.5_80/http_srv-2 drain" {
		t.Fatalf("calls after the form %v", c)
	}
	resp, body = call("GET", base+";csv", "admin", "AdminPasswd")
	if resp.StatusCode != 200 || !strings.Contains(body, ",http_srv-1,") || !strings.Contains(body, ",MAINT,") {
		t.Fatalf("csv after maint: %d\n%s", resp.StatusCode, body)
	}
	// Other URIs go to the backend, which has no server: the engine's 503.
	if resp, _ = call("GET", "http://"+ln.Addr().String()+"/elsewhere", "", ""); resp.StatusCode != 503 {
		t.Fatalf("outside the page: %d", resp.StatusCode)
	}
	env.mu.Lock()
	logs := strings.Join(env.logs, "|")
	env.mu.Unlock()
	if !strings.Contains(logs, "stats/<STATS> 401") || !strings.Contains(logs, "stats/<STATS> 303") {
		t.Errorf("logs %s", logs)
	}
}
