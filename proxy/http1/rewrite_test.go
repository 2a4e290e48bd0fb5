package http1

import (
	"strings"
	"testing"
)

func TestRewriteHeaders(t *testing.T) {
	raw := "GET /old/path?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 10.0.0.1\r\nAccept: */*\r\nx-forwarded-for: 10.0.0.2\r\nCookie: a=1\r\n\r\n"
	var r Request
	if _, err := r.Parse([]byte(raw), Limits{}); err != nil {
		t.Fatal(err)
	}
	if n := r.HeaderCount("X-Forwarded-For"); n != 2 {
		t.Fatalf("count %d", n)
	}
	r.Set("X-Forwarded-For", "192.0.2.7") // replaces the first, drops the second
	r.Add("X-Request-Id", "abc")          // appended
	if d := r.Del("cookie"); d != 1 {     // case-insensitive
		t.Fatalf("deleted %d", d)
	}
	r.Set("X-New", "1") // absent: appended
	if !r.SetPath([]byte("/new")) {
		t.Fatal("SetPath refused")
	}
	want := "GET /new?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 192.0.2.7\r\nAccept: */*\r\nX-Request-Id: abc\r\nX-New: 1\r\n\r\n"
	if got := string(r.AppendTo(nil)); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if !r.SetQuery([]byte("y=2&z"), false) || string(r.Target()) != "/new?y=2&z" {
		t.Fatalf("SetQuery: %q", r.Target())
	}
	if !r.SetQuery(nil, true) || string(r.Target()) != "/new" {
		t.Fatalf("SetQuery remove: %q", r.Target())
	}
	if !r.SetQuery(nil, false) || string(r.Target()) != "/new?" {
		t.Fatalf("SetQuery empty: %q", r.Target())
	}
	// Injection attempts are refused and leave the head unchanged.
	for _, p := range []string{"/a b", "/a\r\nX: 1", "nopath", "", "/a?b", "/\x00"} {
		if r.SetPath([]byte(p)) {
			t.Errorf("SetPath(%q) accepted", p)
		}
	}
	if r.SetQuery([]byte("a b"), false) || r.SetMethod("G T") || r.SetMethod("") {
		t.Error("bad query or method accepted")
	}
	before := string(r.AppendTo(nil))
	if r.Add("X-A", "1\r\nX-Injected: 2") || r.Set("X-A", "\x00") || r.Add("X A", "1") || r.Add("", "1") ||
		r.SetBytes([]byte("X:A"), []byte("1")) || r.AddBytes([]byte("X-A"), []byte("a\nb")) || r.SetValueAt(0, []byte("a\rb")) {
		t.Error("invalid field accepted by a rewrite")
	}
	if string(r.AppendTo(nil)) != before {
		t.Error("refused rewrites changed the head")
	}
	if string(r.Target()) != "/new?" {
		t.Errorf("target changed by refused rewrites: %q", r.Target())
	}
	r.SetMethod("POST")
	r.SetVersion(HTTP10)
	if !strings.HasPrefix(string(r.AppendTo(nil)), "POST /new? HTTP/1.0\r\n") {
		t.Errorf("method/version: %q", r.AppendTo(nil))
	}
	// Iterate and replace values in place (replace-header).
	for i := 0; i < r.Len(); i++ {
		if h := r.At(i); string(h.Name) == "Accept" {
			r.SetValueAt(i, []byte("text/html"))
		}
	}
	if v, _ := r.Header("accept"); string(v) != "text/html" {
		t.Errorf("SetValueAt: %q", v)
	}
	r.DelAt(0)
	if _, ok := r.Header("host"); ok {
		t.Error("DelAt(0) kept Host")
	}
	// A full array refuses Add instead of overflowing.
	for r.Len() < MaxHeaders {
		if !r.Add("X-Fill", "1") {
			t.Fatal("Add refused below capacity")
		}
	}
	if r.Add("X-Over", "1") || r.AddBytes([]byte("X-Over"), []byte("1")) {
		t.Error("Add beyond MaxHeaders accepted")
	}
}

func TestRewriteAbsoluteForm(t *testing.T) {
	r := mustReq(t, "GET http://a.example:81/p?q HTTP/1.1\r\nHost: a.example:81\r\n\r\n")
	r.SetPath([]byte("/z"))
	if string(r.Target()) != "http://a.example:81/z?q" {
		t.Fatalf("target %q", r.Target())
	}
	c := mustReq(t, "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")
	if c.SetPath([]byte("/x")) {
		t.Error("SetPath on CONNECT accepted")
	}
}

// Rewritten bytes live in the head's arena: they survive the buffer the
// head was parsed from being overwritten, and the arena is reused.
func TestRewriteSurvivesAndReuses(t *testing.T) {
	buf := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	var r Request
	if _, err := r.Parse(buf, Limits{}); err != nil {
		t.Fatal(err)
	}
	name, value := []byte("X-Copy"), []byte("v1")
	r.AddBytes(name, value)
	value[0] = 'Z' // caller reuses its slice
	if v, _ := r.Header("x-copy"); string(v) != "v1" {
		t.Fatalf("AddBytes did not copy: %q", v)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Parse(buf, Limits{}); err != nil {
			t.Fatal(err)
		}
		r.Set("X-Forwarded-For", "192.0.2.1")
		r.Add("X-Forwarded-Proto", "https")
		r.SetPath([]byte("/rewritten/path"))
	})
	if allocs != 0 {
		t.Errorf("steady-state rewrite allocates %.1f times", allocs)
	}
}

func TestSetStatus(t *testing.T) {
	r := mustResp(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if !r.SetStatus(503, "") || string(r.AppendTo(nil)) != "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n" {
		t.Errorf("%q", r.AppendTo(nil))
	}
	if r.SetStatus(99, "x") || r.SetStatus(200, "a\r\nb") {
		t.Error("bad status accepted")
	}
	if !r.SetStatus(299, "Custom") || r.Status() != 299 || string(r.Reason()) != "Custom" {
		t.Error("custom status")
	}
}
