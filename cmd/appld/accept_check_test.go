package main

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"appl/internal/testbed"
)

// checkedWeb answers the seed's health check path with a status the test sets, and
// every other path with "NAME PATH"; it counts both kinds apart.
type checkedWeb struct {
	name   string
	srv    *httptest.Server
	health atomic.Int32
	checks atomic.Int64
	reqs   atomic.Int64
}

func startCheckedWeb(t *testing.T, name string) *checkedWeb {
	t.Helper()
	w := &checkedWeb{name: name}
	w.health.Store(200)
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthCheck.html" {
			w.checks.Add(1)
			rw.WriteHeader(int(w.health.Load()))
			return
		}
		w.reqs.Add(1)
		fmt.Fprintf(rw, "%s %s", name, r.URL.Path)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *checkedWeb) addr() string { return w.srv.Listener.Addr().String() }

// Seed 004 through appld: `option httpchk GET /healthCheck.html` marks ms1.srv1 down
// when it answers 404 there (L7STS/404 in `show stat` and ;csv, no more requests, a
// client's cookie for it no longer holds), and up again once it answers 200. The
// seed's stats listen asks for `stats auth admin:admin` in realm "HAProxy Stats" and,
// without `stats admin`, refuses the admin form.
func TestSeed004HealthCheckAndStatsThroughAppld(t *testing.T) {
	names := []string{"ms1.srv1", "ms1.srv2", "ms2.srv1", "ms2.srv2", "def.srv1", "def.srv2"}
	web := map[string]*checkedWeb{}
	vars := map[string]string{}
	for _, n := range names {
		web[n] = startCheckedWeb(t, n)
		vars[strings.ToUpper(strings.NewReplacer(".", "_").Replace(n))] = web[n].addr()
	}
	logAddr, _ := udpLines(t)
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "appl.sock")
	front, statsAddr := freePort(t), freePort(t)
	vars["LOG"], vars["SOCK"], vars["FRONT"], vars["STATS"] = logAddr, sockPath, front, statsAddr
	vars["PIDFILE"] = filepath.Join(dir, "appld.pid")
	path := filepath.Join(dir, "appl.cfg")
	writeCfg(t, path, fixture(t, "seed004-l7.cfg", vars))
	startLocalAppld(t, path)
	base := "http://" + front
	fresh := func() string { // a client without the cookie: balanced
		code, body, _, err := httpGet(&http.Client{Timeout: 5 * time.Second}, base+"/ms1/x")
		if err != nil || code != 200 {
			t.Fatalf("GET /ms1/x: %d %v", code, err)
		}
		return strings.Fields(body)[0]
	}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving http", func() bool {
		code, _, _, err := httpGet(&http.Client{Timeout: time.Second}, base+"/")
		return err == nil && code == 200
	})
	stat := func() map[string]string { return csvRow(t, sock(t, sockPath, "show stat"), "ms1", "ms1.srv1") }
	srv1 := web["ms1.srv1"]

	// A client whose cookie names ms1.srv1.
	jar, _ := cookiejar.New(nil)
	sticky := &http.Client{Timeout: 5 * time.Second, Jar: jar}
	for i := 0; ; i++ {
		_, body, _, err := httpGet(sticky, base+"/ms1/login")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(body, "ms1.srv1 ") {
			break
		}
		if i == 10 {
			t.Fatal("ms1.srv1 never answered")
		}
		jar, _ = cookiejar.New(nil)
		sticky.Jar = jar
	}
	testbed.Eventually(t, 10*time.Second, 50*time.Millisecond, "checks reaching ms1.srv1", func() bool { return srv1.checks.Load() >= 1 })

	// 404 on the check path: DOWN after `fall 3` checks (inter 2000ms).
	srv1.health.Store(404)
	t0 := time.Now()
	testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, "ms1.srv1 DOWN in show stat", func() bool {
		return stat()["status"] == "DOWN"
	})
	t.Logf("DOWN %v after the first 404", time.Since(t0).Round(100*time.Millisecond))
	// `show stat` on the socket and the page's ;csv render the same rows.
	if r := stat(); r["check_status"] != "L7STS" || r["check_code"] != "404" || !strings.Contains(r["check_desc"], "Layer7 wrong status") {
		t.Fatalf("show stat check_status %q check_code %q check_desc %q, want L7STS 404 Layer7 wrong status", r["check_status"], r["check_code"], r["check_desc"])
	}
	if r := csvRow(t, statsGet(t, "http://"+statsAddr+"/stats;csv"), "ms1", "ms1.srv1"); r["status"] != "DOWN" || r["check_status"] != "L7STS" || r["check_code"] != "404" {
		t.Fatalf(";csv status %q check_status %q check_code %q, want DOWN L7STS 404", r["status"], r["check_status"], r["check_code"])
	}
	n := srv1.reqs.Load()
	for i := 0; i < 20; i++ {
		if got := fresh(); got != "ms1.srv2" {
			t.Fatalf("ms1.srv1 down but request %d went to %s", i, got)
		}
	}
	_, body, _, err := httpGet(sticky, base+"/ms1/again")
	if err != nil || !strings.HasPrefix(body, "ms1.srv2 ") {
		t.Fatalf("cookie for the down ms1.srv1: %q %v, want ms1.srv2", body, err)
	}
	if d := srv1.reqs.Load() - n; d != 0 {
		t.Fatalf("ms1.srv1 down received %d requests", d)
	}

	// 200 again: UP after `rise 2`, and it gets its share of fresh clients back.
	srv1.health.Store(200)
	t0 = time.Now()
	testbed.Eventually(t, 20*time.Second, 100*time.Millisecond, "ms1.srv1 UP in show stat", func() bool {
		return strings.HasPrefix(stat()["status"], "UP")
	})
	t.Logf("UP %v after the first 200", time.Since(t0).Round(100*time.Millisecond))
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		seen[fresh()]++
	}
	if seen["ms1.srv1"] < 3 || seen["ms1.srv2"] < 3 {
		t.Fatalf("after ms1.srv1 came back, fresh clients went %v", seen)
	}

	// The seed's stats listen.
	page := "http://" + statsAddr + "/stats"
	for _, c := range []struct{ user, pass string }{{"", ""}, {"admin", "wrong"}, {"root", "admin"}} {
		code, _, h := statsReq(t, "GET", page, c.user, c.pass, "", nil)
		if code != 401 || h.Get("WWW-Authenticate") != `Basic realm="HAProxy Stats"` {
			t.Fatalf("user %q: %d %q, want 401 realm HAProxy Stats", c.user, code, h.Get("WWW-Authenticate"))
		}
	}
	code, html, _ := statsReq(t, "GET", page, "admin", "admin", "", nil)
	if code != 200 || !strings.Contains(html, "ms1.srv1") || !strings.Contains(html, "def.srv2") || strings.Contains(html, "<form") ||
		!strings.Contains(html, `<meta http-equiv="refresh" content="30">`) {
		t.Fatalf("stats page: %d (servers listed, `stats refresh 30s`, no admin form expected)", code)
	}
	browser := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://" + statsAddr}
	if code, _, _ := statsReq(t, "POST", page, "admin", "admin", "s=ms1.srv2&action=maint&b=ms1", browser); code != 403 {
		t.Fatalf("POST without `stats admin`: %d, want 403", code)
	}
	if got := stat(); !strings.HasPrefix(got["status"], "UP") {
		t.Fatalf("ms1.srv1 after the refused POST: %q", got["status"])
	}
	if r := csvRow(t, sock(t, sockPath, "show stat"), "ms1", "ms1.srv2"); !strings.HasPrefix(r["status"], "UP") {
		t.Fatalf("ms1.srv2 after the refused POST: %q", r["status"])
	}
}

func statsGet(t *testing.T, u string) string {
	t.Helper()
	code, body, _ := statsReq(t, "GET", u, "admin", "admin", "", nil)
	if code != 200 {
		t.Fatalf("GET %s: %d", u, code)
	}
	return body
}
