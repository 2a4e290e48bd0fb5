package http1

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Generated responses are well-formed (our own parser accepts them) and
// carry the right length.
func TestAppendError(t *testing.T) {
	for _, code := range []int{200, 400, 401, 403, 404, 405, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504} {
		b := AppendError([]byte("prefix"), code)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("AppendError did not append")
		}
		b = b[len("prefix"):]
		var r Response
		n, err := r.Parse(b, Limits{})
		if err != nil {
			t.Fatalf("%d: %v\n%s", code, err, b)
		}
		f := r.Framing(nil)
		if r.Status() != code || f.Kind != BodyLength || int(f.Length) != len(b)-n {
			t.Errorf("%d: status %d framing %+v body %d", code, r.Status(), f, len(b)-n)
		}
		close := r.HasConnectionToken("close")
		if close != (code >= 400 && code != 401) {
			t.Errorf("%d: connection close %v", code, close)
		}
		if !strings.Contains(string(b[n:]), "<h1>"+itoa(code)+" ") {
			t.Errorf("%d: body %q", code, b[n:])
		}
	}
}

func itoa(n int) string { return string(appendInt(nil, int64(n))) }

// The bodies are HAProxy's: compare with the error files Debian's haproxy
// package ships, when installed.
func TestErrorBodiesMatchHAProxy(t *testing.T) {
	found := 0
	for _, code := range []int{400, 403, 408, 500, 502, 503, 504} {
		want, err := os.ReadFile("/etc/haproxy/errors/" + itoa(code) + ".http")
		if err != nil {
			continue
		}
		found++
		i := bytes.Index(want, []byte("\r\n\r\n"))
		if i < 0 {
			i = bytes.Index(want, []byte("\n\n"))
			want = want[i+2:]
		} else {
			want = want[i+4:]
		}
		got := AppendError(nil, code)
		got = got[bytes.Index(got, []byte("\r\n\r\n"))+4:]
		if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
			t.Errorf("%d body\n%q\nhaproxy's\n%q", code, got, want)
		}
	}
	if found == 0 {
		t.Skip("haproxy error files not installed (/etc/haproxy/errors)")
	}
}

func TestAppendRedirectAndAuth(t *testing.T) {
	b, ok := AppendRedirect(nil, 302, []byte("https://a.example/x?y"), []byte("SRV=s1; path=/"), true)
	if !ok {
		t.Fatal("refused")
	}
	r := mustResp(t, string(b))
	loc, _ := r.Header("location")
	ck, _ := r.Header("set-cookie")
	if r.Status() != 302 || string(loc) != "https://a.example/x?y" || string(ck) != "SRV=s1; path=/" ||
		!r.HasConnectionToken("close") || r.Framing(nil).Kind != BodyNone {
		t.Errorf("redirect %q", b)
	}
	for _, bad := range []string{"/a\r\nSet-Cookie: x=1", "/a\nb", "/a\x00"} {
		if out, ok := AppendRedirect([]byte("keep"), 301, []byte(bad), nil, false); ok || string(out) != "keep" {
			t.Errorf("location %q accepted", bad)
		}
	}
	if _, ok := AppendRedirect(nil, 200, []byte("/"), nil, false); ok {
		t.Error("code 200 accepted")
	}
	a := mustResp(t, string(AppendAuthRequired(nil, "Stats \"zone\"\r\n")))
	v, _ := a.Header("www-authenticate")
	if a.Status() != 401 || string(v) != `Basic realm="Stats \"zone\""` {
		t.Errorf("auth: %d %q", a.Status(), v)
	}
}
