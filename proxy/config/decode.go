package config

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/maps"
	// Registers the stick-table fetches (sc_*, src_*, table_*) that ACLs may use.
	_ "appl/proxy/tcprules"
)

// Options tune decoding.
type Options struct {
	// BaseDir resolves relative file names (pattern and map files). Load sets it to the
	// directory of the configuration file.
	BaseDir string
	// Lookup resolves ${VAR} when Load parses the file; nil means os.LookupEnv.
	Lookup func(string) (string, bool)
	// Maps is the node's map and pattern-file store, shared with the runtime API and
	// kept across reloads so runtime edits survive; nil gives each decode its own.
	Maps *maps.Store
}

// Load parses and decodes a configuration file.
func Load(path string) (*Config, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with options; BaseDir defaults to the file's directory.
func LoadWith(path string, opt Options) (*Config, error) {
	cfg, err := load(path, opt)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func load(path string, opt Options) (*Config, error) {
	cfg, _, err := loadNotes(path, opt)
	return cfg, err
}

// loadNotes also returns the file's .notice/.warning/.alert/.diag lines.
func loadNotes(path string, opt Options) (*Config, []cfgfile.Line, error) {
	if opt.BaseDir == "" {
		opt.BaseDir = filepath.Dir(path)
	}
	f, perr := cfgfile.ParseFile(path, cfgfile.Options{Lookup: opt.Lookup})
	if f == nil {
		return nil, nil, perr
	}
	cfg, derr := decode(f, opt)
	errs := append(cfgfile.AsErrors(perr), cfgfile.AsErrors(derr)...)
	if perr != nil && cfgfile.AsErrors(perr) == nil {
		return cfg, f.Notes, perr
	}
	return cfg, f.Notes, errs.Err()
}

// Decode turns the proxy sections of a parsed file into a Config. Every error found is
// returned together as cfgfile.Errors; on error the Config is nil.
func Decode(f *cfgfile.File, opt Options) (*Config, error) {
	cfg, err := decode(f, opt)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Check loads a file like `haproxy -c`: it returns the decoded configuration (nil on
// error), the warnings formatted "[WARNING] file:line: directive: problem", and the
// errors. Warnings are returned even when the file is refused.
func Check(path string) (cfg *Config, warnings []string, err error) {
	return CheckWith(path, Options{})
}

// CheckWith is Check with options. The file's own .notice/.warning/.alert lines come
// first, as "[NOTICE] file:line: text" (or WARNING/ALERT), like haproxy prints them.
func CheckWith(path string, opt Options) (*Config, []string, error) {
	cfg, notes, err := loadNotes(path, opt)
	var warnings []string
	for _, n := range notes {
		level := strings.ToUpper(strings.TrimPrefix(n.Keyword(), "."))
		warnings = append(warnings, "["+level+"] "+n.Pos.String()+": "+strings.Join(n.Words[1:], " "))
	}
	if cfg != nil {
		for _, w := range cfg.Warnings {
			warnings = append(warnings, "[WARNING] "+w.Error())
		}
	}
	if err != nil {
		return nil, warnings, err
	}
	return cfg, warnings, nil
}

// WriteCheck prints a Check result the way `haproxy -c` does and returns the exit code:
// warnings, then either "Configuration file is valid" (0) or each error as
// "[ALERT] file:line: ..." and a closing line (1).
func WriteCheck(w io.Writer, warnings []string, err error) int {
	for _, s := range warnings {
		fmt.Fprintln(w, s)
	}
	if err == nil {
		fmt.Fprintln(w, "Configuration file is valid")
		return 0
	}
	if es := cfgfile.AsErrors(err); es != nil {
		for _, e := range es {
			fmt.Fprintln(w, "[ALERT] "+e.Error())
		}
	} else {
		fmt.Fprintln(w, "[ALERT] "+err.Error())
	}
	fmt.Fprintln(w, "Fatal errors found in configuration.")
	return 1
}

// IsUnsupported says whether a configuration error is only about something HAProxy has
// and appl does not implement yet (its message starts with "unsupported").
func IsUnsupported(e *cfgfile.Error) bool { return strings.HasPrefix(e.Msg, "unsupported") }

// decoder holds the state of one Decode call.
type decoder struct {
	opt      Options
	cfg      *Config
	errs     cfgfile.Errors
	warns    cfgfile.Errors
	seenWarn map[string]bool

	defaults     map[string]*proxy // named defaults
	lastDefaults *proxy            // the defaults section in force (named or not)
	proxies      []*proxy          // frontends, backends, listens in file order
	feNames      map[string]*proxy // frontends and listens by name
	beNames      map[string]*proxy // backends and listens by name
	backendNames map[string]bool   // backends and listens, known before decoding
	userlists    map[string]bool
	logGlobal    []*Logging // proxies whose `log global` is resolved at the end
}

func (d *decoder) errorf(l cfgfile.Line, format string, args ...any) {
	d.errs = append(d.errs, l.Errorf(format, args...))
}

func (d *decoder) warnf(l cfgfile.Line, format string, args ...any) {
	e := l.Errorf(format, args...)
	if k := e.Error(); !d.seenWarn[k] {
		d.seenWarn[k] = true
		d.warns = append(d.warns, e)
	}
}

// add records an error from a helper (acl) so that it reads file:line: directive: msg.
func (d *decoder) add(l cfgfile.Line, err error) {
	var e *cfgfile.Error
	if errors.As(err, &e) {
		d.errs = append(d.errs, e)
		return
	}
	if es := cfgfile.AsErrors(err); es != nil {
		d.errs = append(d.errs, es...)
		return
	}
	d.errorf(l, "%v", err)
}

func (d *decoder) unsupported(l cfgfile.Line, what string) {
	d.warnf(l, "unsupported directive (appl does not implement %s yet; see docs/compatibility.md)", what)
}

func decode(f *cfgfile.File, opt Options) (*Config, error) {
	d := &decoder{
		opt:          opt,
		cfg:          &Config{},
		seenWarn:     map[string]bool{},
		defaults:     map[string]*proxy{},
		feNames:      map[string]*proxy{},
		beNames:      map[string]*proxy{},
		backendNames: map[string]bool{},
		userlists:    map[string]bool{},
	}
	d.cfg.Global = Global{}
	// Names first: rules may name a backend or userlist declared further down.
	for _, s := range f.Sections {
		switch s.Kind {
		case "backend", "listen":
			d.backendNames[s.Name] = true
		case "userlist":
			d.userlists[s.Name] = true
		}
	}
	globalSeen := false
	for _, s := range f.Sections {
		head := cfgfile.Line{Pos: s.Pos, Words: append([]string{s.Kind}, headWords(s)...)}
		switch s.Kind {
		case "global":
			if !globalSeen {
				d.cfg.Global.Pos = s.Pos
			}
			globalSeen = true
			d.global(s)
		case "defaults", "frontend", "backend", "listen":
			d.proxySection(s, head)
		case "userlist":
			d.userlist(s, head)
		case "peers":
			d.warnf(head, "unsupported section (appl replicates stick tables through its cluster section, not HAProxy peers; see docs/compatibility.md)")
		default:
			if applSections[s.Kind] {
				continue
			}
			d.warnf(head, "unsupported section (appl does not implement %q sections yet; its lines are ignored; see docs/compatibility.md)", s.Kind)
		}
	}
	d.finish()
	d.loadTLS()
	sort.SliceStable(d.errs, func(i, j int) bool { return posLess(d.errs[i].Pos, d.errs[j].Pos) })
	sort.SliceStable(d.warns, func(i, j int) bool { return posLess(d.warns[i].Pos, d.warns[j].Pos) })
	d.cfg.Warnings = d.warns
	return d.cfg, d.errs.Err()
}

func posLess(a, b cfgfile.Pos) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Line < b.Line
}

func headWords(s *cfgfile.Section) []string {
	if s.Name == "" {
		return nil
	}
	return append([]string{s.Name}, s.Args...)
}

// finish resolves what needs the whole file: `log global`, backend names, modes.
func (d *decoder) finish() {
	for _, p := range d.proxies {
		p.finish(d)
	}
	for _, lg := range d.logGlobal {
		lg.Targets = append(append([]LogTarget(nil), d.cfg.Global.Logs...), lg.Targets...)
	}
}

func (d *decoder) aclOptions() acl.Options {
	return acl.Options{
		BaseDir: d.opt.BaseDir,
		Maps:    d.opt.Maps,
		Known: func(kind, name string) bool {
			switch kind {
			case "backend":
				return d.backendNames[name]
			case "userlist":
				return d.userlists[name]
			}
			return true
		},
	}
}

// AsErrorList returns the positioned errors of a Load/Decode error.
func AsErrorList(err error) cfgfile.Errors { return cfgfile.AsErrors(err) }
