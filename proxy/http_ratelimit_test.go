package proxy

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"appl/proxy/stick"
)

// Rate limiting by source in mode http through the data plane: http-request track-sc0
// src feeds the frontend's table, sc_http_req_rate(0) above the threshold is answered
// 429 by appl itself (the server never sees it), another source is not limited, and
// the table holds the counts.
func TestHTTPModeRateLimitBySource(t *testing.T) {
	web := startWeb(t, "web")
	front := freeAddr(t)
	p, _ := startProxy(t, loadCfg(t, `
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind `+front+`
    stick-table type ip size 1k expire 60s store http_req_rate(60s),http_req_cnt
    http-request track-sc0 src
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 5 }
    default_backend web
backend web
    server w1 `+web.addr()+`
`))
	from := func(src string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	}
	c := from("127.0.0.1")
	var codes []int
	for i := 0; i < 8; i++ {
		code, _, _ := get(t, c, "http://"+front+"/x")
		codes = append(codes, code)
	}
	want := []int{200, 200, 200, 200, 200, 429, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("status codes %v, want %v", codes, want)
		}
	}
	if n := web.reqs.Load(); n != 5 {
		t.Errorf("server saw %d requests, want 5", n)
	}
	// Another source address has its own entry.
	if code, body, _ := get(t, from("127.0.0.2"), "http://"+front+"/y"); code != 200 || body != "web /y" {
		t.Errorf("other source: %d %q", code, body)
	}
	var dump strings.Builder
	for _, tb := range p.Tables() {
		if tb.Name() == "fe" {
			tb.Show(&dump, stick.Filter{})
		}
	}
	if s := dump.String(); !strings.Contains(s, "key=127.0.0.1 ") || !strings.Contains(s, "http_req_cnt=8") {
		t.Errorf("table fe:\n%s", s)
	}
}
