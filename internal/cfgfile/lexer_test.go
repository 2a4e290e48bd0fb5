package cfgfile

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSplitLine(t *testing.T) {
	vars := env(map[string]string{"PORT": "8080", "EMPTY": ""})
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   # only a comment", nil},
		{"bind :80", []string{"bind", ":80"}},
		{"\tserver  s1\t10.0.0.1:80 check # trailing", []string{"server", "s1", "10.0.0.1:80", "check"}},
		{`acl a hdr(host) -i "a b"`, []string{"acl", "a", "hdr(host)", "-i", "a b"}},
		{`x 'a "b" ${PORT}'`, []string{"x", `a "b" ${PORT}`}},
		{`bind "127.0.0.1:${PORT}"`, []string{"bind", "127.0.0.1:8080"}},
		{`bind 127.0.0.1:${PORT}`, []string{"bind", "127.0.0.1:${PORT}"}},
		{`x "${UNSET-def}" "${UNSET}" "${EMPTY-d}"`, []string{"x", "def", "", ""}},
		{`x a\ b c\#d e\\f`, []string{"x", "a b", "c#d", `e\f`}},
		{`x \x41\x62`, []string{"x", "Ab"}},
		{`x "" ''`, []string{"x", "", ""}},
		{`x a"b c"d`, []string{"x", "ab cd"}},
		{`reqrep ^([^\ :]*)\ /static/(.*) \1\ /\2`, []string{"reqrep", `^([^ :]*) /static/(.*)`, `\1 /\2`}},
		{`acl x path_reg ^/a\.b$`, []string{"acl", "x", "path_reg", `^/a\.b$`}},
		{"x a#comment", []string{"x", "a"}},
		{"x é ü", []string{"x", "é", "ü"}},
	}
	for _, c := range cases {
		got, err := SplitLine(c.in, vars)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
	}
}

func TestSplitLineErrors(t *testing.T) {
	for _, in := range []string{`x "abc`, `x 'abc`, `x abc\`, `x \xZ1`, `x "${A"`, "x a\x00b", `x "${}"`} {
		if _, err := SplitLine(in, env(nil)); err == nil {
			t.Errorf("%q: expected an error", in)
		}
	}
}

func TestParseSections(t *testing.T) {
	src := "# head comment\nglobal\n  maxconn 100\n\ndefaults web\n  mode http\nfrontend fe from web\r\n  bind :80\nlisten l1 0.0.0.0:80\n  server a 1.2.3.4:80\nvrrp vi_1\n  vrid 5" // no trailing newline
	f, err := Parse("t.cfg", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.Sections {
		got = append(got, s.Kind+"/"+s.Name+"/"+strings.Join(s.Args, ",")+"/"+s.Pos.String())
		for _, l := range s.Lines {
			got = append(got, "  "+l.Pos.String()+" "+strings.Join(l.Words, "|"))
		}
	}
	want := []string{
		"global///t.cfg:2", "  t.cfg:3 maxconn|100",
		"defaults/web//t.cfg:5", "  t.cfg:6 mode|http",
		"frontend/fe/from,web/t.cfg:7", "  t.cfg:8 bind|:80",
		"listen/l1/0.0.0.0:80/t.cfg:9", "  t.cfg:10 server|a|1.2.3.4:80",
		"vrrp/vi_1//t.cfg:11", "  t.cfg:12 vrid|5",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(f.SectionsOf("vrrp")); n != 1 {
		t.Fatalf("SectionsOf(vrrp) = %d", n)
	}
}

func TestParseErrorsArePositioned(t *testing.T) {
	src := "maxconn 5\nglobal\n  log \"unterminated\n  .endif\n"
	_, err := Parse("bad.cfg", []byte(src), Options{})
	es := AsErrors(err)
	if len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, want := range []string{"bad.cfg:1: maxconn: directive outside of any section", "bad.cfg:3: unterminated \" quote", "bad.cfg:4: .endif: without .if"} {
		if !strings.HasPrefix(es[i].Error(), want) {
			t.Errorf("error %d = %q, want prefix %q", i, es[i], want)
		}
	}
}

func TestConditionalBlocks(t *testing.T) {
	src := `global
.if defined(HAVE_X)
  a
.elif 1
  b
.else
  c
.endif
.if feature(QUIC)
  d
  .if 1
  e
  .endif
.else
  f
.endif
.if !defined(HAVE_X)
.notice 'hello'
.endif
`
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"HAVE_X": "1"}, "a f"},
		{nil, "b f"},
	} {
		f, err := Parse("c.cfg", []byte(src), Options{Lookup: env(tc.vars)})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range f.Sections[0].Lines {
			got = append(got, l.Keyword())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("vars %v: got %q want %q", tc.vars, got, tc.want)
		}
		if wantNotes := len(tc.vars) == 0; (len(f.Notes) == 1) != wantNotes {
			t.Errorf("vars %v: notes %v", tc.vars, f.Notes)
		}
	}
	if _, err := Parse("c.cfg", []byte("global\n.if 1\n"), Options{}); err == nil || !strings.Contains(err.Error(), "c.cfg:2: .if: block not closed") {
		t.Fatalf("unclosed .if: %v", err)
	}
	if _, err := Parse("c.cfg", []byte("global\n.if version_atleast(2.4)\n.endif\n"), Options{}); err == nil || !strings.Contains(err.Error(), "unsupported condition") {
		t.Fatalf("unsupported predicate: %v", err)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "250": 250 * time.Millisecond, "5ms": 5 * time.Millisecond,
		"10us": 10 * time.Microsecond, "30s": 30 * time.Second, "2m": 2 * time.Minute, "1h": time.Hour, "7d": 7 * 24 * time.Hour} {
		got, err := ParseTime(in)
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "-1", "5x", "1.5s", "400d", "99999999999999999999"} {
		if _, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q): expected an error", in)
		}
	}
}
