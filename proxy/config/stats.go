package config

import (
	"strings"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
)

// StatsConfig is a proxy's stats page, from its `stats` lines (and the defaults'). Any
// stats keyword enables the page, as in HAProxy.
type StatsConfig struct {
	Pos         cfgfile.Pos // first stats line (of the section, or of the defaults it came from)
	URI         string      // prefix of the page's URI; default "/haproxy?stats"
	Realm       string      // basic-auth realm; default "HAProxy Statistics"
	Users       []StatsUser // `stats auth USER:PASS`, in order
	Refresh     time.Duration
	Admin       *acl.Cond // `stats admin if|unless COND`; nil: read-only page
	ShowNode    bool
	NodeName    string // `stats show-node NAME`; "" means the host name
	HideVersion bool
	ShowDesc    bool
	Desc        string // `stats show-desc TEXT`; "" means the global description
	ShowLegends bool
	ShowModules bool
	// Scope lists the proxies the page shows (`stats scope NAME`, "." being the proxy
	// itself); empty shows all.
	Scope []string
	// Rules are `stats http-request allow|deny|auth [realm R] [if|unless COND]`, in order.
	Rules []StatsRule
}

// Default stats settings (HAProxy's STATS_DEFAULT_URI and STATS_DEFAULT_REALM).
const (
	DefaultStatsURI   = "/haproxy?stats"
	DefaultStatsRealm = "HAProxy Statistics"
)

// StatsUser is one `stats auth USER:PASS` line; PASS is clear text as in HAProxy.
type StatsUser struct {
	Pos      cfgfile.Pos
	Name     string
	Password string
}

// StatsRule is one `stats http-request` line.
type StatsRule struct {
	Pos    cfgfile.Pos
	Action string    // "allow", "deny" or "auth"
	Realm  string    // auth only; "" means the page's realm
	Cond   *acl.Cond // nil: always
}

func (s *StatsConfig) clone() *StatsConfig {
	if s == nil {
		return nil
	}
	c := *s
	c.Users = append([]StatsUser(nil), s.Users...)
	c.Scope = append([]string(nil), s.Scope...)
	c.Rules = append([]StatsRule(nil), s.Rules...)
	return &c
}

var statsKeywords = set("admin", "auth", "enable", "hide-version", "http-request", "realm",
	"refresh", "scope", "show-desc", "show-legends", "show-modules", "show-node", "uri",
	"bind-process", "maxconn", "timeout")

// stats decodes a `stats` line of a proxy section into p.stats.
func (d *decoder) stats(p *proxy, l cfgfile.Line, args []string) {
	if len(args) == 0 {
		d.errorf(l, "missing keyword (expected stats enable, uri, auth, realm, refresh, admin, ...)")
		return
	}
	kw, rest := args[0], args[1:]
	if kw == "socket" {
		d.errorf(l, "stats socket belongs in the global section")
		return
	}
	if !statsKeywords[kw] {
		if s := closest(kw, keys(statsKeywords)); s != "" {
			d.errorf(l, "unknown stats keyword %q (did you mean %q?)", kw, s)
		} else {
			d.errorf(l, "unknown stats keyword %q (expected enable, uri, auth, realm, refresh, admin, hide-version, scope, show-node, ...)", kw)
		}
		return
	}
	switch kw {
	case "bind-process", "maxconn", "timeout":
		// Global-section `stats` settings of the stats socket; HAProxy refuses them here.
		d.errorf(l, "stats %s belongs in the global section (expected enable, uri, auth, realm, refresh, admin, ...)", kw)
		return
	case "admin", "http-request":
		if p.kind == "defaults" {
			d.errorf(l, "'stats %s' not allowed in a defaults section (expected it in a frontend, backend or listen section)", kw)
			return
		}
	}
	if p.stats == nil {
		p.stats = &StatsConfig{Pos: l.Pos, URI: DefaultStatsURI, Realm: DefaultStatsRealm}
	} else if p.statsFromDef {
		// A section's own stats lines refine the defaults' page on a copy, as HAProxy does.
		p.stats = p.stats.clone()
	}
	p.statsFromDef = false
	st := p.stats
	one := func(what string) (string, bool) {
		if len(rest) != 1 {
			d.errorf(l, "stats %s needs one argument (expected stats %s %s)", kw, kw, what)
			return "", false
		}
		return rest[0], true
	}
	switch kw {
	case "enable":
		d.noArgs(l, rest)
	case "uri":
		if u, ok := one("PREFIX"); ok {
			if !strings.HasPrefix(u, "/") {
				d.errorf(l, "stats uri must start with '/' (got %q)", u)
				return
			}
			st.URI = u
		}
	case "realm":
		if r, ok := one("REALM (escape spaces: HAProxy\\ Statistics)"); ok {
			if strings.ContainsAny(r, "\"\\\r\n") {
				d.errorf(l, "stats realm must not contain quotes, backslashes or line breaks")
				return
			}
			st.Realm = r
		}
	case "auth":
		up, ok := one("USER:PASSWORD")
		if !ok {
			return
		}
		user, pass, found := strings.Cut(up, ":")
		if !found || user == "" {
			d.errorf(l, "stats auth expects USER:PASSWORD")
			return
		}
		st.Users = append(st.Users, StatsUser{Pos: l.Pos, Name: user, Password: pass})
	case "refresh":
		v, ok := one("TIME")
		if !ok {
			return
		}
		t, err := parseDuration(v)
		if err != nil {
			d.errorf(l, "stats refresh: %v (expected a time such as 10s; a bare number is seconds... HAProxy reads it as milliseconds)", err)
			return
		}
		st.Refresh = t
	case "hide-version":
		d.noArgs(l, rest)
		st.HideVersion = true
	case "show-legends":
		d.noArgs(l, rest)
		st.ShowLegends = true
	case "show-modules":
		d.noArgs(l, rest)
		st.ShowModules = true
	case "show-node":
		if len(rest) > 1 {
			d.errorf(l, "stats show-node takes at most one name (expected stats show-node [NAME])")
			return
		}
		st.ShowNode = true
		if len(rest) == 1 {
			st.NodeName = rest[0]
		}
	case "show-desc":
		st.ShowDesc = true
		st.Desc = strings.Join(rest, " ")
	case "scope":
		if s, ok := one("PROXY|."); ok {
			st.Scope = append(st.Scope, s)
		}
	case "admin":
		if len(rest) < 2 || (rest[0] != "if" && rest[0] != "unless") {
			d.errorf(l, "stats admin needs a condition (expected stats admin if|unless COND)")
			return
		}
		if cond, ok := d.statsCond(p, l, rest); ok {
			st.Admin = cond
		}
	case "http-request":
		d.statsRule(p, l, st, rest)
	}
}

func (d *decoder) statsCond(p *proxy, l cfgfile.Line, words []string) (*acl.Cond, bool) {
	if n, why := p.condUsesBroken(words[1:]); n != "" {
		d.errorf(l, "unsupported: condition uses acl %q which appl cannot evaluate yet (%s)", n, why)
		return nil, false
	}
	cond, err := p.acls.ParseCond(l, words)
	if err != nil {
		d.add(l, err)
		return nil, false
	}
	return cond, true
}

func (d *decoder) statsRule(p *proxy, l cfgfile.Line, st *StatsConfig, args []string) {
	const want = "stats http-request allow|deny|auth [realm REALM] [if|unless COND]"
	if len(args) == 0 {
		d.errorf(l, "missing action (expected %s)", want)
		return
	}
	r := StatsRule{Pos: l.Pos, Action: args[0]}
	rest := args[1:]
	switch r.Action {
	case "allow", "deny":
	case "auth":
		if len(rest) > 0 && rest[0] == "realm" {
			if len(rest) < 2 {
				d.errorf(l, "realm needs a value (expected %s)", want)
				return
			}
			r.Realm, rest = rest[1], rest[2:]
			if strings.ContainsAny(r.Realm, "\"\\\r\n") {
				d.errorf(l, "realm must not contain quotes, backslashes or line breaks")
				return
			}
		}
	default:
		d.errorf(l, "unsupported stats http-request action %q (expected %s)", r.Action, want)
		return
	}
	if len(rest) > 0 {
		if rest[0] != "if" && rest[0] != "unless" {
			d.errorf(l, "unexpected %q (expected %s)", rest[0], want)
			return
		}
		if len(rest) == 1 {
			d.errorf(l, "missing condition after %q", rest[0])
			return
		}
		cond, ok := d.statsCond(p, l, rest)
		if !ok {
			return
		}
		r.Cond = cond
	}
	st.Rules = append(st.Rules, r)
}

// PrometheusRule is `http-request use-service prometheus-exporter [if|unless COND]`:
// HAProxy's Prometheus exporter, served by the stats page's code (proxy/stats).
type PrometheusRule struct {
	Pos  cfgfile.Pos
	Cond *acl.Cond // nil: every request
}

// useService decodes `http-request use-service NAME [if|unless COND]`; only HAProxy's
// prometheus-exporter service exists in appl.
func (d *decoder) useService(p *proxy, l cfgfile.Line, args []string) {
	const want = "http-request use-service prometheus-exporter [if|unless COND]"
	if p.kind == "defaults" {
		d.errorf(l, "not allowed in a defaults section (expected it in a frontend, backend or listen section)")
		return
	}
	if len(args) < 2 || args[1] != "prometheus-exporter" {
		d.errorf(l, "unsupported: appl's only service is prometheus-exporter (expected %s)", want)
		return
	}
	r := PrometheusRule{Pos: l.Pos}
	if rest := args[2:]; len(rest) > 0 {
		if (rest[0] != "if" && rest[0] != "unless") || len(rest) == 1 {
			d.errorf(l, "unexpected %q (expected %s)", strings.Join(rest, " "), want)
			return
		}
		cond, ok := d.statsCond(p, l, rest)
		if !ok {
			return
		}
		r.Cond = cond
	}
	p.prometheus = append(p.prometheus, r)
}
