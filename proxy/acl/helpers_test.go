package acl

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"appl/internal/cfgfile"
)

func line(t testing.TB, s string) cfgfile.Line {
	t.Helper()
	w, err := cfgfile.SplitLine(s, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfgfile.Line{Pos: cfgfile.Pos{File: "test.cfg", Line: 7}, Words: w}
}

func tcpTxn(src, dst string) *Txn {
	return &Txn{Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst)}
}

// build defines acl lines and parses cond (the words after the directive).
func build(t testing.TB, opt Options, acls []string, cond string) (*Set, *Cond) {
	t.Helper()
	s := NewSet(opt)
	for _, a := range acls {
		if err := s.Define(line(t, a)); err != nil {
			t.Fatalf("Define(%q): %v", a, err)
		}
	}
	if cond == "" {
		return s, nil
	}
	l := line(t, "use_backend x "+cond)
	c, err := s.ParseCond(l, l.Words[2:])
	if err != nil {
		t.Fatalf("ParseCond(%q): %v", cond, err)
	}
	return s, c
}

func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.TrimLeft(text, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
