package tcprules

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/maps"
	"appl/proxy/stick"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a compiled configuration: the Rules of each section and the table registry.
type env struct {
	tables *Tables
	rules  map[string]*Rules
	dir    string
	maps   *maps.Store
	ch     Changes
}

// compileText compiles every frontend, backend and listen section of text, the way
// the data plane will: acl lines into the section's Set, the rest through Compile.
func compileText(t testing.TB, ts *Tables, dir, text string, opt Options) (*env, error) {
	t.Helper()
	f, err := cfgfile.Parse(filepath.Join(dir, "appl.cfg"), []byte(text), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("cfgfile: %v", err)
	}
	ms := maps.NewStore()
	opt.ACL.BaseDir, opt.ACL.Maps = dir, ms
	e := &env{tables: ts, rules: map[string]*Rules{}, dir: dir, maps: ms}
	b := ts.Begin()
	var errs cfgfile.Errors
	for _, sec := range f.Sections {
		var role Role
		switch sec.Kind {
		case "frontend":
			role = Frontend
		case "backend":
			role = Backend
		case "listen":
			role = Listen
		default:
			continue
		}
		acls := acl.NewSet(opt.ACL)
		var rest []cfgfile.Line
		for _, l := range sec.Lines {
			if l.Keyword() == "acl" {
				if err := acls.Define(l); err != nil {
					errs = append(errs, cfgfile.AsErrors(err)...)
				}
				continue
			}
			rest = append(rest, l)
		}
		r, err := Compile(sec.Name, role, rest, acls, b, opt)
		if err != nil {
			errs = append(errs, cfgfile.AsErrors(err)...)
			continue
		}
		e.rules[sec.Name] = r
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	ch, err := b.Commit()
	if err != nil {
		return nil, err
	}
	e.ch = ch
	return e, nil
}

func mustCompile(t testing.TB, ts *Tables, dir, text string) *env {
	t.Helper()
	e, err := compileText(t, ts, dir, text, Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return e
}

func writeFile(t testing.TB, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func newSess(src string) *Session {
	s := NewSession()
	s.Reset(ap(src), ap("198.18.0.1:5000"))
	return s
}

func showTable(t testing.TB, tb *stick.Table) string {
	t.Helper()
	var b strings.Builder
	if err := tb.Show(&b, stick.Filter{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// parseLines returns the lines of the first section of text.
func parseLines(t testing.TB, text string) []cfgfile.Line {
	t.Helper()
	f, err := cfgfile.Parse("t.cfg", []byte(text), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	return f.Sections[0].Lines
}
