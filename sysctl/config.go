package sysctl

import (
	"strings"

	"appl/internal/cfgfile"
)

// DefaultPersistPath is where Apply persists the tuning unless the config says otherwise.
const DefaultPersistPath = "/etc/sysctl.d/90-appl.conf"

// Config is the decoded `sysctl` section.
type Config struct {
	Profile string    // "" or "loadbalancer"
	Sets    []Setting // explicit overrides, in file order; a later one wins
	// PersistPath is the sysctl.d file written after apply; "" disables persisting.
	PersistPath string
	// Nofile is the RLIMIT_NOFILE appld raises itself to (0: the profile's default).
	Nofile uint64
}

// Setting is one `set KEY VALUE` (or `set-unchecked`) line.
type Setting struct {
	Key       string
	Value     string // normalized: fields separated by one space
	Unchecked bool   // not validated against the known keys
	Pos       cfgfile.Pos
}

// Profiles lists the built-in profile names.
var Profiles = []string{"loadbalancer"}

// Decode reads the `sysctl` sections of f (several are merged in file order). A file with
// no sysctl section gives an empty Config that changes nothing. All problems are reported
// together as cfgfile.Errors.
func Decode(f *cfgfile.File) (*Config, error) {
	c := &Config{PersistPath: DefaultPersistPath}
	var errs cfgfile.Errors
	for _, s := range f.SectionsOf("sysctl") {
		if s.Name != "" {
			errs = append(errs, &cfgfile.Error{Pos: s.Pos, Directive: "sysctl", Msg: "section takes no name (expected a line with only 'sysctl')"})
		}
		for _, l := range s.Lines {
			args := l.Words[1:]
			switch l.Keyword() {
			case "profile":
				if len(args) != 1 || !isProfile(args[0]) {
					errs = append(errs, l.Errorf("expected one profile name (expected one of: %s)", strings.Join(Profiles, ", ")))
					continue
				}
				c.Profile = args[0]
			case "set", "set-unchecked":
				if len(args) < 2 {
					errs = append(errs, l.Errorf("expected KEY VALUE (e.g. set net.ipv4.tcp_fin_timeout 7)"))
					continue
				}
				key, value := args[0], strings.Join(args[1:], " ")
				st := Setting{Key: key, Pos: l.Pos, Unchecked: l.Keyword() == "set-unchecked"}
				if st.Unchecked {
					if !validKeySyntax(key) {
						errs = append(errs, l.Errorf("bad key %q (expected dotted words such as net.ipv4.tcp_fin_timeout)", key))
						continue
					}
					st.Value = strings.Join(strings.Fields(value), " ")
				} else {
					v, err := normalize(key, value)
					if err != nil {
						errs = append(errs, l.Errorf("%v", err))
						continue
					}
					st.Value = v
				}
				c.Sets = append(c.Sets, st)
			case "persist":
				if len(args) != 1 {
					errs = append(errs, l.Errorf("expected one path or 'off' (e.g. persist %s)", DefaultPersistPath))
					continue
				}
				if args[0] == "off" || args[0] == "none" {
					c.PersistPath = ""
				} else if strings.HasPrefix(args[0], "/") {
					c.PersistPath = args[0]
				} else {
					errs = append(errs, l.Errorf("path %q is not absolute (expected e.g. %s or 'off')", args[0], DefaultPersistPath))
				}
			case "nofile":
				n, err := parseUint(args)
				if err != nil || n < 1024 {
					errs = append(errs, l.Errorf("expected one number >= 1024 (the open-files limit appld raises itself to)"))
					continue
				}
				c.Nofile = n
			default:
				errs = append(errs, l.Errorf("unknown directive (expected profile, set, set-unchecked, persist or nofile)"))
			}
		}
	}
	return c, errs.Err()
}

func isProfile(name string) bool {
	for _, p := range Profiles {
		if p == name {
			return true
		}
	}
	return false
}

func validKeySyntax(key string) bool {
	if !safeComponents(key) {
		return false
	}
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '.', r == '_', r == '-', r == '/', r == '@', r == ':':
		default:
			return false
		}
	}
	return true
}
