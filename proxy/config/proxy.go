package config

import (
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
)

// proxy is one defaults/frontend/backend/listen section being decoded. A section starts
// as a copy of the defaults in force, then its own lines override.
type proxy struct {
	kind string
	name string
	pos  cfgfile.Pos
	head cfgfile.Line

	mode           Mode
	modeLine       *cfgfile.Line
	binds          []*Bind
	maxconn        int
	timeouts       Timeouts
	defaultBackend string
	defBackendLine cfgfile.Line
	useBackends    []UseBackend
	useLines       []cfgfile.Line
	acls           *acl.Set
	brokenACLs     map[string]string // acl name -> why appl cannot evaluate it
	log            Logging
	logGlobal      bool
	options        map[string]bool
	optionLines    map[string]cfgfile.Line
	balance        Balance
	balanceLine    *cfgfile.Line
	defServer      Server
	servers        []*Server
	retries        int
	check          CheckSpec
	checkFromDef   bool          // tcp-check steps inherited from defaults (replaced by own ones)
	httpCheckLine  *cfgfile.Line // first http-check line (own or inherited), for the warning without option httpchk
	httpFromDef    bool          // http-check rules inherited from defaults (replaced by own ones)
	httpStepSeen   bool          // an own http-check send or expect line was decoded (connect must come first)
	source         *Source
	fullconn       int
	disabled       bool
	description    string
	rules          []cfgfile.Line
	stats          *StatsConfig
	statsFromDef   bool // stats is the defaults' page, cloned before a change
	prometheus     []PrometheusRule
	warned         map[string]bool // not-served kinds already reported for this section
}

func (p *proxy) isFrontend() bool { return p.kind == "frontend" || p.kind == "listen" }
func (p *proxy) isBackend() bool  { return p.kind == "backend" || p.kind == "listen" }

func newDefaults() *proxy {
	return &proxy{
		kind:        "defaults",
		options:     map[string]bool{},
		optionLines: map[string]cfgfile.Line{},
		retries:     3,
		defServer:   Server{Weight: 1, Inter: 2 * time.Second, Rise: 2, Fall: 3},
		check:       CheckSpec{Kind: "tcp"},
	}
}

// inherit copies what a defaults section passes on to the sections after it.
func (p *proxy) inherit(def *proxy) {
	p.mode = def.mode
	p.maxconn = def.maxconn
	p.timeouts = def.timeouts
	p.defaultBackend = def.defaultBackend
	p.defBackendLine = def.defBackendLine
	p.log = Logging{
		Targets: append([]LogTarget(nil), def.log.Targets...), TCPLog: def.log.TCPLog,
		HTTPLog: def.log.HTTPLog, DontLogNull: def.log.DontLogNull, Format: def.log.Format,
	}
	p.logGlobal = def.logGlobal
	p.options = maps.Clone(def.options)
	p.optionLines = maps.Clone(def.optionLines)
	p.balance = def.balance
	p.balance.Args = append([]string(nil), def.balance.Args...)
	if def.balanceLine != nil {
		bl := *def.balanceLine
		p.balanceLine = &bl
	}
	p.defServer = cloneServer(&def.defServer)
	p.retries = def.retries
	p.check = def.check
	p.check.TCPSteps = append([]TCPCheckStep(nil), def.check.TCPSteps...)
	if def.check.HTTP != nil {
		h := *def.check.HTTP
		h.Headers = append([][2]string(nil), h.Headers...)
		h.Expect = append([]HTTPExpect(nil), h.Expect...)
		p.check.HTTP = &h
	}
	p.checkFromDef = len(def.check.TCPSteps) > 0
	p.httpCheckLine = def.httpCheckLine
	p.httpFromDef = def.check.HTTP != nil
	if def.source != nil {
		s := *def.source
		p.source = &s
	}
	p.fullconn = def.fullconn
	p.rules = append([]cfgfile.Line(nil), def.rules...)
	p.stats, p.statsFromDef = def.stats.clone(), def.stats != nil
}

func cloneServer(s *Server) Server {
	c := *s
	c.Options = maps.Clone(s.Options)
	c.ALPN = slices.Clone(s.ALPN)
	c.SSLParams.Options = slices.Clone(s.SSLParams.Options)
	if s.Source != nil {
		src := *s.Source
		c.Source = &src
	}
	return c
}

// proxySection decodes a defaults, frontend, backend or listen section.
func (d *decoder) proxySection(s *cfgfile.Section, head cfgfile.Line) {
	p := newDefaults()
	p.kind, p.name, p.pos, p.head = s.Kind, s.Name, s.Pos, head
	p.warned = map[string]bool{}
	p.acls = acl.NewSet(d.aclOptions())
	p.brokenACLs = map[string]string{}

	// Header: NAME [from DEFAULTS] [ADDR[,ADDR...]] (legacy inline bind).
	args := append([]string(nil), s.Args...)
	from := ""
	for i := 0; i < len(args); i++ {
		if args[i] == "from" {
			if i+1 >= len(args) {
				d.errorf(head, "`from` needs the name of a defaults section")
				return
			}
			from = args[i+1]
			args = append(args[:i], args[i+2:]...)
			i--
		}
	}
	if s.Kind != "defaults" && s.Name == "" {
		d.errorf(head, "missing name (expected %s NAME)", s.Kind)
		return
	}
	if s.Name != "" && !validName(s.Name) {
		d.errorf(head, "invalid name %q (expected letters, digits, '-', '_', '.' and ':')", s.Name)
	}
	var base *proxy
	if from != "" {
		base = d.defaults[from]
		if base == nil {
			if s.Name == from && s.Kind == "defaults" {
				d.errorf(head, "defaults %q cannot inherit from itself", from)
			} else {
				d.errorf(head, "no defaults section named %q before this line (expected the name of a `defaults NAME` section declared above)", from)
			}
		}
	} else if s.Kind != "defaults" {
		base = d.lastDefaults
	}
	if base != nil {
		p.inherit(base)
	}
	if p.options == nil {
		p.options = map[string]bool{}
		p.optionLines = map[string]cfgfile.Line{}
	}
	if len(args) > 0 {
		if s.Kind == "frontend" || s.Kind == "listen" {
			for _, a := range args {
				d.bindAddrs(p, head, a, nil)
			}
		} else {
			d.errorf(head, "unexpected %q after the name (expected %s NAME [from DEFAULTS])", strings.Join(args, " "), s.Kind)
		}
	}
	if s.Kind != "defaults" && s.Name != "" {
		if prev := d.feNames[s.Name]; prev != nil && p.isFrontend() {
			d.errorf(head, "name %q already used by the %s at %s (expected unique frontend and backend names)", s.Name, prev.kind, prev.pos)
		} else if prev := d.beNames[s.Name]; prev != nil && p.isBackend() {
			d.errorf(head, "name %q already used by the %s at %s (expected unique frontend and backend names)", s.Name, prev.kind, prev.pos)
		} else {
			if p.isFrontend() {
				d.feNames[s.Name] = p
			}
			if p.isBackend() {
				d.beNames[s.Name] = p
			}
		}
	}

	for _, l := range s.Lines {
		d.proxyLine(p, l)
	}

	if s.Kind == "defaults" {
		if s.Name != "" {
			d.defaults[s.Name] = p
		}
		d.lastDefaults = p
		return
	}
	d.proxies = append(d.proxies, p)
}

func validName(n string) bool {
	for _, c := range n {
		ok := c == '-' || c == '_' || c == '.' || c == ':' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return n != ""
}

// notServed warns once per section and directive kind that a decoded directive is kept
// but not acted upon yet.
func (d *decoder) notServed(p *proxy, l cfgfile.Line, kind string) {
	what, ok := notServedYet[kind]
	if !ok || p.warned[kind] {
		return
	}
	p.warned[kind] = true
	d.warnf(l, "parsed, not served yet: appl does not act on %s in this version (%s)", what, p.label())
}

// label names the section in messages.
func (p *proxy) label() string {
	if p.name == "" {
		return "anonymous " + p.kind
	}
	return p.kind + " " + strconvQuote(p.name)
}

// needs reports a directive used in a section kind that cannot hold it. HAProxy ignores
// most of these with a warning; bind, server, acl and rules in defaults are errors.
func (d *decoder) needs(p *proxy, l cfgfile.Line, fe, be, def bool) bool {
	switch p.kind {
	case "defaults":
		if !def {
			d.errorf(l, "not allowed in a defaults section (expected it in a %s section)", sectionsFor(fe, be))
			return false
		}
	case "frontend":
		if !fe {
			d.warnf(l, "ignored: a frontend has no backend half (expected it in a backend or listen section)")
			return false
		}
	case "backend":
		if !be {
			d.warnf(l, "ignored: a backend has no frontend half (expected it in a frontend or listen section)")
			return false
		}
	}
	return true
}

func sectionsFor(fe, be bool) string {
	switch {
	case fe && be:
		return "frontend, backend or listen"
	case fe:
		return "frontend or listen"
	default:
		return "backend or listen"
	}
}

func (d *decoder) proxyLine(p *proxy, l cfgfile.Line) {
	kw := l.Keyword()
	args := l.Words[1:]
	switch kw {
	case "mode":
		if !d.oneArg(l, args, "tcp or http") {
			return
		}
		switch args[0] {
		case "tcp":
			p.mode = ModeTCP
		case "http":
			p.mode = ModeHTTP
		case "health":
			d.unsupported(l, "mode health")
			return
		default:
			d.errorf(l, "unknown mode %q (expected tcp or http)", args[0])
			return
		}
		ll := l
		p.modeLine = &ll
	case "bind":
		if !d.needs(p, l, true, false, false) {
			return
		}
		if len(args) == 0 {
			d.errorf(l, "missing address (expected bind ADDR:PORT [options])")
			return
		}
		d.bindAddrs(p, l, args[0], args[1:])
	case "maxconn":
		if !d.needs(p, l, true, false, true) {
			return
		}
		if n, ok := d.intArg(l, args, 0, 1<<30, "a connection count"); ok {
			p.maxconn = n
		}
	case "timeout":
		d.timeout(p, l, args)
	case "contimeout", "clitimeout", "srvtimeout":
		name := map[string]string{"contimeout": "connect", "clitimeout": "client", "srvtimeout": "server"}[kw]
		d.warnf(l, "deprecated: read as `timeout %s` (HAProxy removed %s in 2.1)", name, kw)
		d.timeout(p, l, append([]string{name}, args...))
	case "default_backend":
		if !d.needs(p, l, true, false, true) {
			return
		}
		if d.oneArg(l, args, "a backend name") {
			p.defaultBackend = args[0]
			p.defBackendLine = l
		}
	case "use_backend":
		if !d.needs(p, l, true, false, false) {
			return
		}
		d.useBackend(p, l, args)
	case "acl":
		if p.kind == "defaults" {
			d.errorf(l, "not allowed in a defaults section (expected it in a frontend, backend or listen section)")
			return
		}
		d.aclLine(p, l, args)
	case "balance":
		if !d.needs(p, l, false, true, true) {
			return
		}
		d.balanceLine(p, l, args)
	case "hash-type":
		if !d.needs(p, l, false, true, true) {
			return
		}
		d.hashType(p, l, args)
	case "default-server":
		if !d.needs(p, l, false, true, true) {
			return
		}
		srv := cloneServer(&p.defServer)
		if d.serverOptions(p, l, &srv, args, true) {
			p.defServer = srv
		}
	case "server":
		if !d.needs(p, l, false, true, false) {
			return
		}
		d.server(p, l, args)
	case "option", "no":
		d.option(p, l)
	case "tcp-check":
		if !d.needs(p, l, false, true, true) {
			return
		}
		d.tcpCheck(p, l, args)
	case "http-check":
		if !d.needs(p, l, false, true, true) {
			return
		}
		d.httpCheck(p, l, args)
	case "retries":
		if !d.needs(p, l, false, true, true) {
			return
		}
		if n, ok := d.intArg(l, args, 0, 1000, "a number of connection retries"); ok {
			p.retries = n
		}
	case "redispatch":
		d.warnf(l, "deprecated: read as `option redispatch`")
		p.options["redispatch"] = true
		p.optionLines["redispatch"] = l
	case "log":
		d.proxyLog(p, l, args)
	case "source":
		if !d.needs(p, l, false, true, true) {
			return
		}
		if src, ok := d.source(l, args); ok {
			p.source = src
		}
	case "fullconn":
		if !d.needs(p, l, false, true, true) {
			return
		}
		if n, ok := d.intArg(l, args, 0, 1<<30, "a connection count"); ok {
			p.fullconn = n
		}
	case "description":
		if len(args) == 0 {
			d.errorf(l, "missing text (expected description TEXT)")
			return
		}
		p.description = strings.Join(args, " ")
	case "disabled":
		d.noArgs(l, args)
		p.disabled = true
	case "enabled":
		d.noArgs(l, args)
		p.disabled = false
	case "stats":
		d.stats(p, l, args)
	case "http-request", "http-response", "http-after-response", "tcp-request", "tcp-response",
		"stick", "stick-table", "cookie", "errorfile", "redirect":
		d.rawRule(p, l, args)
	default:
		if Unsupported["proxy"][kw] {
			d.unsupported(l, kw)
			return
		}
		d.unknown(l, p.kind, keys(proxyKeywords, Unsupported["proxy"]))
	}
}

var timeoutKinds = set("connect", "client", "server", "queue", "check", "tunnel",
	"client-fin", "server-fin", "http-request", "http-keep-alive", "client-hs")

func (d *decoder) timeout(p *proxy, l cfgfile.Line, args []string) {
	if len(args) == 0 {
		d.errorf(l, "missing kind (expected timeout connect|client|server|queue|check|tunnel|client-fin|server-fin|http-request|http-keep-alive TIME)")
		return
	}
	kind := args[0]
	if Unsupported["timeout"][kind] {
		d.unsupported(l, "timeout "+kind)
		return
	}
	if !timeoutKinds[kind] {
		if s := closest(kind, keys(timeoutKinds)); s != "" {
			d.errorf(l, "unknown timeout %q (did you mean %q?)", kind, s)
		} else {
			d.errorf(l, "unknown timeout %q (expected connect, client, server, queue, check, tunnel, client-fin, server-fin, http-request or http-keep-alive)", kind)
		}
		return
	}
	if len(args) != 2 {
		d.errorf(l, "timeout %s needs one value (expected a time such as 5s, 500ms or 1m; a bare number is milliseconds)", kind)
		return
	}
	t, err := parseDuration(args[1])
	if err != nil {
		d.errorf(l, "timeout %s: %v (expected a time such as 5s, 500ms or 1m; a bare number is milliseconds)", kind, err)
		return
	}
	fe := kind == "client" || kind == "client-hs" || kind == "client-fin" || kind == "http-request" || kind == "http-keep-alive"
	be := kind == "connect" || kind == "server" || kind == "queue" || kind == "check" || kind == "server-fin" || kind == "tunnel" || kind == "http-keep-alive" || kind == "http-request"
	if !d.needs(p, l, fe, be, true) {
		return
	}
	to := &p.timeouts
	switch kind {
	case "connect":
		to.Connect = t
	case "client":
		to.Client = t
	case "server":
		to.Server = t
	case "queue":
		to.Queue = t
	case "check":
		to.Check = t
	case "tunnel":
		to.Tunnel = t
	case "client-hs":
		to.ClientHS = t
	case "client-fin":
		to.ClientFin = t
	case "server-fin":
		to.ServerFin = t
	case "http-request":
		to.HTTPRequest = t
	case "http-keep-alive":
		to.HTTPKeepAlive = t
	}
}

func (d *decoder) proxyLog(p *proxy, l cfgfile.Line, args []string) {
	if len(args) == 1 && args[0] == "global" {
		p.logGlobal = true
		return
	}
	if len(args) == 0 {
		d.errorf(l, "missing target (expected log global or log ADDRESS FACILITY [LEVEL [MINLEVEL]])")
		return
	}
	if t, ok := d.logTarget(l, args); ok {
		p.log.Targets = append(p.log.Targets, t)
	}
}

// rawRule keeps a directive owned by a later issue and warns that it is not served.
func (d *decoder) rawRule(p *proxy, l cfgfile.Line, args []string) {
	kw := l.Keyword()
	if len(args) == 0 {
		d.errorf(l, "missing arguments (expected %s ACTION ...)", kw)
		return
	}
	switch kw {
	case "http-request":
		if args[0] == "use-service" {
			d.useService(p, l, args)
			return
		}
	case "http-response", "http-after-response", "tcp-response", "errorfile", "redirect":
	case "tcp-request":
		switch args[0] {
		case "connection", "content", "session", "inspect-delay":
		default:
			d.errorf(l, "unknown tcp-request ruleset %q (expected connection, session, content or inspect-delay)", args[0])
			return
		}
	case "stick":
		switch args[0] {
		case "on", "match", "store-request", "store-response":
		default:
			d.errorf(l, "unknown stick rule %q (expected on, match, store-request or store-response)", args[0])
			return
		}
		if !d.needs(p, l, false, true, false) {
			return
		}
	case "stick-table", "cookie":
		if kw == "stick-table" && p.kind == "defaults" {
			d.errorf(l, "not allowed in a defaults section (expected it in a frontend, backend or listen section)")
			return
		}
	}
	p.rules = append(p.rules, l)
	d.notServed(p, l, kw)
}

// aclLine defines a named ACL. An ACL whose fetch appl cannot evaluate is remembered so
// that a served rule using it is refused, while rules not served yet only warn.
func (d *decoder) aclLine(p *proxy, l cfgfile.Line, args []string) {
	if len(args) < 2 {
		d.errorf(l, "needs a name and a criterion (expected acl NAME FETCH [flags] [operator] VALUES...)")
		return
	}
	err := p.acls.Define(l)
	if err == nil {
		return
	}
	if aclUnsupported(err) {
		p.brokenACLs[args[0]] = aclReason(err)
		d.warnf(l, "unsupported acl %q: %s (rules using it cannot be served)", args[0], aclReason(err))
		return
	}
	d.add(l, err)
}

// aclUnsupported tells an acl error about something appl lacks from a real mistake.
func aclUnsupported(err error) bool {
	m := strings.ToLower(errText(err))
	return strings.Contains(m, "unsupported") || strings.Contains(m, "not supported") ||
		strings.Contains(m, "not implemented") || unsupportedSample(errText(err)) != ""
}

// aclReason is a short reason for an unsupported acl error: the long list of fetches
// acl offers is replaced by a pointer to the compatibility table.
func aclReason(err error) string {
	if s := unsupportedSample(errText(err)); s != "" {
		return "appl does not implement the " + s + " yet; see docs/compatibility.md"
	}
	return errText(err)
}

// errText is the message of an error without its position and directive prefix.
func errText(err error) string {
	if es := cfgfile.AsErrors(err); len(es) > 0 {
		return es[0].Msg
	}
	return err.Error()
}

// condUsesBroken returns the first broken ACL a condition names.
func (p *proxy) condUsesBroken(words []string) (string, string) {
	for _, w := range words {
		n := strings.TrimLeft(w, "!")
		if why, ok := p.brokenACLs[n]; ok {
			return n, why
		}
	}
	return "", ""
}

func (d *decoder) useBackend(p *proxy, l cfgfile.Line, args []string) {
	if len(args) == 0 {
		d.errorf(l, "missing backend (expected use_backend NAME|%%[EXPR] [if|unless COND])")
		return
	}
	ub := UseBackend{Pos: l.Pos}
	name := args[0]
	if strings.HasPrefix(name, "%[") {
		if !strings.HasSuffix(name, "]") {
			d.errorf(l, "unterminated %%[ in %q (expected %%[FETCH,CONVERTER...])", name)
			return
		}
		expr, err := acl.ParseExpr(name[2:len(name)-1], d.aclOptions())
		if err != nil {
			if aclUnsupported(err) {
				d.errorf(l, "unsupported expression %s: %s", name, aclReason(err))
			} else {
				d.errorf(l, "bad expression %s: %s", name, errText(err))
			}
			return
		}
		ub.Expr = expr
	} else {
		if strings.Contains(name, "%[") {
			d.errorf(l, "unsupported backend name format %q (expected NAME or a whole %%[EXPR])", name)
			return
		}
		ub.Backend = name
	}
	rest := args[1:]
	if len(rest) > 0 {
		if rest[0] != "if" && rest[0] != "unless" {
			d.errorf(l, "unexpected %q after the backend (expected if COND or unless COND)", rest[0])
			return
		}
		if len(rest) == 1 {
			d.errorf(l, "missing condition after %q", rest[0])
			return
		}
		if n, why := p.condUsesBroken(rest[1:]); n != "" {
			d.errorf(l, "unsupported: condition uses acl %q which appl cannot evaluate yet (%s)", n, why)
			return
		}
		cond, err := p.acls.ParseCond(l, rest)
		if err != nil {
			d.add(l, err)
			return
		}
		ub.Cond = cond
	}
	p.useBackends = append(p.useBackends, ub)
	p.useLines = append(p.useLines, l)
}

var balanceAlgos = set("roundrobin", "static-rr", "leastconn", "first", "source", "uri",
	"url_param", "hdr", "rdp-cookie", "random", "hash")

// l7Algos need the HTTP request; in a tcp backend HAProxy falls back to roundrobin.
var l7Algos = set("uri", "url_param", "hdr")

func (d *decoder) balanceLine(p *proxy, l cfgfile.Line, args []string) {
	ll := l
	if len(args) == 0 {
		// HAProxy reads a bare `balance` as roundrobin.
		p.balance = Balance{Algo: "roundrobin", HashType: p.balance.HashType}
		p.balanceLine = &ll
		return
	}
	algo, param := args[0], ""
	if i := strings.IndexByte(algo, '('); i >= 0 {
		if !strings.HasSuffix(algo, ")") {
			d.errorf(l, "unterminated ( in %q", algo)
			return
		}
		algo, param = algo[:i], algo[i+1:len(algo)-1]
	}
	if !balanceAlgos[algo] {
		if s := closest(algo, keys(balanceAlgos)); s != "" {
			d.errorf(l, "unknown algorithm %q (did you mean %q?)", algo, s)
		} else {
			d.errorf(l, "unknown algorithm %q (expected roundrobin, static-rr, leastconn, first, source, uri, url_param, hdr(NAME), rdp-cookie, random or hash)", algo)
		}
		return
	}
	b := Balance{Algo: algo, Param: param, HashType: p.balance.HashType, Args: append([]string(nil), args[1:]...)}
	switch algo {
	case "roundrobin", "static-rr", "leastconn", "first", "source":
		if param != "" || len(args) > 1 {
			d.errorf(l, "balance %s takes no argument", algo)
			return
		}
	case "url_param":
		if len(args) < 2 {
			d.errorf(l, "balance url_param needs a parameter name (expected balance url_param NAME)")
			return
		}
		b.Param, b.Args = args[1], args[2:]
	case "hdr":
		if param == "" {
			d.errorf(l, "balance hdr needs a header name (expected balance hdr(NAME))")
			return
		}
	case "hash":
		if len(args) < 2 {
			d.errorf(l, "balance hash needs an expression (expected balance hash EXPR)")
			return
		}
		b.Param, b.Args = args[1], args[2:]
	case "random":
		if param != "" {
			if _, err := parseInt(param, 1, 1000); err != nil {
				d.errorf(l, "balance random(%s): %v (expected a number of draws)", param, err)
				return
			}
		}
	}
	p.balance = b
	p.balanceLine = &ll
}

func (d *decoder) hashType(p *proxy, l cfgfile.Line, args []string) {
	if len(args) == 0 {
		d.errorf(l, "missing method (expected map-based or consistent)")
		return
	}
	switch args[0] {
	case "map-based", "consistent":
	default:
		d.errorf(l, "unknown hash method %q (expected map-based or consistent)", args[0])
		return
	}
	for _, a := range args[1:] {
		switch a {
		case "sdbm", "djb2", "wt6", "crc32", "none", "avalanche":
		default:
			d.errorf(l, "unknown hash function %q (expected sdbm, djb2, wt6, crc32 or none, optionally avalanche)", a)
			return
		}
	}
	p.balance.HashType = args[0]
	if len(args) > 1 {
		d.warnf(l, "unsupported directive (appl does not implement hash-type functions %s yet; see docs/compatibility.md)", strings.Join(args[1:], " "))
	}
}

// option handles `option X [args]` and `no option X`.
func (d *decoder) option(p *proxy, l cfgfile.Line) {
	words := l.Words
	negate := false
	if words[0] == "no" {
		if len(words) < 2 {
			d.errorf(l, "missing keyword (expected no option NAME or no log)")
			return
		}
		if words[1] == "log" {
			p.log.Targets = nil
			p.logGlobal = false
			return
		}
		if words[1] != "option" {
			d.errorf(l, "`no` applies to option and log (expected no option NAME)")
			return
		}
		negate, words = true, words[1:]
	}
	if len(words) < 2 {
		d.errorf(l, "missing option name (expected option NAME)")
		return
	}
	name, args := words[1], words[2:]
	if Unsupported["option"][name] {
		if !negate {
			d.unsupported(l, "option "+name)
		}
		return
	}
	if !recordedOptions[name] {
		if s := closest(name, keys(recordedOptions, Unsupported["option"])); s != "" {
			d.errorf(l, "unknown option %q (did you mean %q?)", name, s)
		} else {
			d.errorf(l, "unknown option %q (expected one listed in docs/configuration.md)", name)
		}
		return
	}
	if negate && len(args) > 0 {
		d.errorf(l, "`no option %s` takes no argument", name)
		return
	}
	switch name {
	case "httpchk":
		if negate {
			if p.check.Kind == "httpchk" {
				p.check.Kind = "tcp"
			}
			break
		}
		if !d.needs(p, l, false, true, true) {
			return
		}
		h := &HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
		if p.check.HTTP != nil {
			// http-check lines seen before (or inherited) keep applying.
			c := *p.check.HTTP
			c.Headers = append([][2]string(nil), c.Headers...)
			c.Expect = append([]HTTPExpect(nil), c.Expect...)
			c.Method, c.URI, c.Version = h.Method, h.URI, h.Version
			h = &c
		}
		switch len(args) {
		case 0:
		case 1:
			h.URI = args[0]
		case 2:
			h.Method, h.URI = args[0], args[1]
		case 3:
			h.Method, h.URI, h.Version = args[0], args[1], args[2]
		default:
			d.errorf(l, "too many arguments (expected option httpchk [METHOD] [URI] [VERSION])")
			return
		}
		if vsn, extra, hack := strings.Cut(h.Version, "\r\n"); hack {
			// Old configs hide headers (and a body) after the version; HAProxy sends
			// them and warns. The headers go before those of http-check send.
			hdrs, body, _ := strings.Cut(extra, "\r\n\r\n")
			var parsed [][2]string
			for _, line := range strings.Split(hdrs, "\r\n") {
				if line == "" {
					continue
				}
				name, value, ok := strings.Cut(line, ":")
				name = strings.TrimSpace(name)
				if !ok || name == "" || strings.ContainsAny(name, " \t") {
					d.errorf(l, "header %q after the version is not `Name: value`", line)
					return
				}
				parsed = append(parsed, [2]string{name, strings.TrimSpace(value)})
			}
			h.Version, h.Headers = vsn, append(parsed, h.Headers...)
			if body != "" {
				h.Body = body
			}
			d.warnf(l, "hiding headers or body at the end of the version string is deprecated (HAProxy warns too); consider `http-check send hdr NAME VALUE`")
		}
		if bad := badRequestPart(h); bad != "" {
			d.errorf(l, "%s", bad)
			return
		}
		p.check.Kind, p.check.HTTP = "httpchk", h
	case "tcp-check":
		if !d.needs(p, l, false, true, true) {
			return
		}
		if negate {
			if p.check.Kind == "tcp-check" {
				p.check.Kind = "tcp"
			}
		} else {
			p.check.Kind = "tcp-check"
		}
	case "forwardfor":
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "except", "header":
				if i+1 >= len(args) {
					d.errorf(l, "option forwardfor %s needs a value", args[i])
					return
				}
				i++
			case "if-none":
			default:
				d.errorf(l, "unknown option forwardfor argument %q (expected except NET, header NAME or if-none)", args[i])
				return
			}
		}
	case "httplog":
		if len(args) > 1 || len(args) == 1 && args[0] != "clf" {
			d.errorf(l, "option httplog takes no argument or clf, got %q", strings.Join(args, " "))
			return
		}
		if len(args) == 1 {
			d.warnf(l, "unsupported directive (appl does not implement option httplog clf yet; see docs/compatibility.md)")
		}
	case "redispatch":
		// HAProxy 2.x: `option redispatch [INTERVAL]`, a retry count between redispatches.
		if len(args) > 1 {
			d.errorf(l, "option redispatch takes at most one interval, got %q", strings.Join(args, " "))
			return
		}
		if len(args) == 1 {
			if _, err := strconv.Atoi(args[0]); err != nil {
				d.errorf(l, "option redispatch: %q is not a number (expected a retry interval such as 1 or -1)", args[0])
				return
			}
			d.warnf(l, "unsupported directive (appl does not implement option redispatch INTERVAL yet; see docs/compatibility.md)")
		}
	default:
		if len(args) > 0 {
			d.errorf(l, "option %s takes no argument, got %q", name, strings.Join(args, " "))
			return
		}
	}
	switch name {
	case "tcplog":
		p.log.TCPLog, p.log.HTTPLog = !negate, false
	case "httplog":
		p.log.HTTPLog = !negate
		if !negate {
			p.log.TCPLog = false
		}
	case "dontlognull":
		p.log.DontLogNull = !negate
	}
	p.options[name] = !negate
	p.optionLines[name] = l
}

// tcpCheck decodes one `tcp-check` step.
func (d *decoder) tcpCheck(p *proxy, l cfgfile.Line, args []string) {
	if len(args) == 0 {
		d.errorf(l, "missing action (expected tcp-check connect, send, send-binary, expect or comment)")
		return
	}
	if p.checkFromDef {
		// A proxy's own tcp-check rules replace the ones of its defaults (HAProxy 2.2+).
		p.check.TCPSteps, p.checkFromDef = nil, false
	}
	st := TCPCheckStep{Pos: l.Pos, Action: args[0]}
	rest := args[1:]
	switch args[0] {
	case "comment":
		if len(rest) != 1 {
			d.errorf(l, "tcp-check comment needs one argument")
		}
		return
	case "connect":
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "port":
				if i+1 >= len(rest) {
					d.errorf(l, "tcp-check connect port needs a value (expected 1..65535)")
					return
				}
				n, err := parseInt(rest[i+1], 1, 65535)
				if err != nil {
					d.errorf(l, "tcp-check connect port: %v (expected 1..65535)", err)
					return
				}
				st.Port = n
				i++
			case "send-proxy":
				st.SendProxy = true
			case "comment":
				i++
			case "ssl":
				st.SSL = true
			case "default":
				st.Default = true
			case "sni":
				if i+1 >= len(rest) {
					d.errorf(l, "tcp-check connect sni needs a value")
					return
				}
				st.SNI = rest[i+1]
				i++
			case "linger":
				// HAProxy closes checks with a reset unless linger; appl always resets:
				// the check's result is the same.
			case "addr", "alpn", "proto":
				d.warnf(l, "unsupported directive (appl does not implement tcp-check connect %s yet; see docs/compatibility.md)", rest[i])
				i++
			case "via-socks4":
				d.warnf(l, "unsupported directive (appl does not implement tcp-check connect %s yet; see docs/compatibility.md)", rest[i])
			default:
				d.errorf(l, "unknown tcp-check connect option %q (expected port N, send-proxy, ssl, sni, alpn, linger, comment)", rest[i])
				return
			}
		}
	case "send", "send-binary":
		if len(rest) == 0 {
			d.errorf(l, "tcp-check %s needs data", args[0])
			return
		}
		data := rest[0]
		if len(rest) == 3 && rest[1] == "comment" {
		} else if len(rest) != 1 {
			d.errorf(l, "tcp-check %s takes one argument (quote or escape spaces: \\ )", args[0])
			return
		}
		if args[0] == "send-binary" {
			b, err := decodeHex(data)
			if err != nil {
				d.errorf(l, "tcp-check send-binary: %v (expected hexadecimal digits)", err)
				return
			}
			st.Data = b
		} else {
			st.Data = []byte(data)
		}
	case "expect":
		i := 0
		for i < len(rest) {
			switch rest[i] {
			case "min-recv", "comment", "ok-status", "error-status", "tout-status", "on-success", "on-error", "status-code":
				if i+1 >= len(rest) {
					d.errorf(l, "tcp-check expect %s needs a value", rest[i])
					return
				}
				if rest[i] != "comment" {
					d.warnf(l, "unsupported directive (appl does not implement tcp-check expect %s yet; see docs/compatibility.md)", rest[i])
				}
				i += 2
				continue
			}
			break
		}
		rest = rest[i:]
		if len(rest) > 0 && rest[0] == "!" {
			st.Negate, rest = true, rest[1:]
		} else if len(rest) > 0 && strings.HasPrefix(rest[0], "!") && len(rest[0]) > 1 {
			st.Negate, rest[0] = true, rest[0][1:]
		}
		if len(rest) < 2 {
			d.errorf(l, "tcp-check expect needs a match and a pattern (expected tcp-check expect [!] string|rstring|binary PATTERN)")
			return
		}
		st.Match = rest[0]
		pat := rest[1]
		switch st.Match {
		case "string":
			st.Pattern = pat
		case "rstring":
			if _, err := regexp.Compile(pat); err != nil {
				d.errorf(l, "unsupported regular expression %q: %v (appl uses Go RE2 syntax)", pat, err)
				return
			}
			st.Pattern = pat
		case "binary":
			b, err := decodeHex(pat)
			if err != nil {
				d.errorf(l, "tcp-check expect binary: %v (expected hexadecimal digits)", err)
				return
			}
			st.Pattern = string(b)
		case "rbinary", "string-lf", "binary-lf":
			d.errorf(l, "unsupported tcp-check expect %s (appl implements string, rstring and binary)", st.Match)
			return
		default:
			d.errorf(l, "unknown tcp-check expect match %q (expected string, rstring or binary)", st.Match)
			return
		}
		if len(rest) > 2 && !(len(rest) == 4 && rest[2] == "comment") {
			d.errorf(l, "unexpected %q after the pattern (quote or escape spaces: \\ )", strings.Join(rest[2:], " "))
			return
		}
	case "send-lf", "send-binary-lf", "set-var", "set-var-fmt", "unset-var":
		d.errorf(l, "unsupported tcp-check %s (appl implements connect, send, send-binary, expect and comment)", args[0])
		return
	default:
		d.errorf(l, "unknown tcp-check action %q (expected connect, send, send-binary, expect or comment)", args[0])
		return
	}
	p.check.TCPSteps = append(p.check.TCPSteps, st)
}

func decodeHex(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, errorString("odd number of hex digits")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errorString("bad hex digit in " + s)
	}
	return b, nil
}

// httpCheck decodes `http-check send|expect|connect|disable-on-404|send-state|comment`.
// appl runs one sequence: an optional connect, one send (later send lines change it)
// and every expect in order.
func (d *decoder) httpCheck(p *proxy, l cfgfile.Line, args []string) {
	if len(args) == 0 {
		d.errorf(l, "missing action (expected http-check send, expect, connect, disable-on-404, send-state or comment)")
		return
	}
	if p.check.HTTP == nil {
		p.check.HTTP = &HTTPCheck{Method: "OPTIONS", URI: "/", Version: "HTTP/1.0"}
	}
	h := p.check.HTTP
	if p.httpCheckLine == nil {
		p.httpCheckLine = &l
	}
	if p.httpFromDef && (args[0] == "send" || args[0] == "expect" || args[0] == "connect") {
		// A proxy's own http-check rules replace the ones of its defaults (HAProxy 2.2+);
		// the request line of option httpchk and the disable-on-404/send-state flags stay.
		h.Headers, h.Body, h.Expect, h.ConnectPort, h.ConnectSendProxy = nil, "", nil, 0, false
		h.Connect, h.ConnectDefault, h.ConnectSSL, h.ConnectSNI = false, false, false, ""
		p.httpFromDef = false
	}
	rest := args[1:]
	if args[0] == "send" || args[0] == "expect" {
		p.httpStepSeen = true
	}
	switch args[0] {
	case "send":
		for i := 0; i < len(rest); i++ {
			key := rest[i]
			need := 1
			if key == "hdr" {
				need = 2
			}
			if i+need >= len(rest) {
				d.errorf(l, "http-check send %s needs a value (expected meth M, uri U, ver V, hdr NAME VALUE, body B)", key)
				return
			}
			switch key {
			case "meth":
				h.Method = rest[i+1]
			case "uri":
				h.URI = rest[i+1]
			case "ver":
				h.Version = rest[i+1]
			case "hdr":
				h.Headers = append(h.Headers, [2]string{rest[i+1], rest[i+2]})
			case "body":
				h.Body = rest[i+1]
			case "uri-lf", "body-lf":
				d.warnf(l, "unsupported directive (appl does not implement http-check send %s yet; see docs/compatibility.md)", key)
			case "comment":
			default:
				d.errorf(l, "unknown http-check send option %q (expected meth, uri, ver, hdr, body, uri-lf, body-lf, comment)", key)
				return
			}
			i += need
		}
		if bad := badRequestPart(h); bad != "" {
			d.errorf(l, "%s", bad)
			return
		}
	case "expect":
		ex := HTTPExpect{}
		for len(rest) > 0 {
			switch rest[0] {
			case "min-recv", "comment", "ok-status", "error-status", "tout-status", "on-success", "on-error", "status-code":
				if len(rest) < 2 {
					d.errorf(l, "http-check expect %s needs a value", rest[0])
					return
				}
				if rest[0] != "comment" {
					d.warnf(l, "unsupported directive (appl does not implement http-check expect %s yet; see docs/compatibility.md)", rest[0])
				}
				rest = rest[2:]
				continue
			}
			break
		}
		if len(rest) > 0 && rest[0] == "!" {
			ex.Negate, rest = true, rest[1:]
		}
		if len(rest) < 2 {
			d.errorf(l, "http-check expect needs a match and a pattern (expected http-check expect [!] status|rstatus|string|rstring PATTERN)")
			return
		}
		ex.Match, ex.Pattern = rest[0], rest[1]
		if len(rest) > 2 && (ex.Match == "status" || ex.Match == "rstatus" || ex.Match == "string" || ex.Match == "rstring") {
			d.errorf(l, "http-check expect %s takes one pattern, got %q (quote or escape spaces: \\ )", rest[0], strings.Join(rest[1:], " "))
			return
		}
		switch ex.Match {
		case "status":
			if !validStatusList(ex.Pattern) {
				d.errorf(l, "http-check expect status %q: expected codes or ranges of 100..599 separated by commas, such as 200 or 200-399", ex.Pattern)
				return
			}
		case "string":
		case "rstatus", "rstring":
			if _, err := regexp.Compile(ex.Pattern); err != nil {
				d.errorf(l, "unsupported regular expression %q: %v (appl uses Go RE2 syntax)", ex.Pattern, err)
				return
			}
		case "hdr", "fhdr", "string-lf", "custom":
			d.errorf(l, "unsupported http-check expect %s (appl implements status, rstatus, string and rstring)", ex.Match)
			return
		default:
			d.errorf(l, "unknown http-check expect match %q (expected status, rstatus, string or rstring)", ex.Match)
			return
		}
		h.Expect = append(h.Expect, ex)
	case "disable-on-404":
		h.DisableOn404 = true
	case "send-state":
		h.SendState = true
	case "connect":
		if p.httpStepSeen {
			d.errorf(l, "http-check connect must come before the send and expect lines (HAProxy refuses it too)")
			return
		}
		h.Connect = true
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case "port":
				if i+1 >= len(rest) {
					d.errorf(l, "http-check connect port needs a value (expected 1..65535)")
					return
				}
				n, err := strconv.Atoi(rest[i+1])
				if err != nil || n < 1 || n > 65535 {
					d.errorf(l, "http-check connect port %q (expected 1..65535)", rest[i+1])
					return
				}
				h.ConnectPort = n
				i++
			case "send-proxy":
				h.ConnectSendProxy = true
			case "default":
				h.ConnectDefault = true
			case "linger":
			case "ssl":
				h.ConnectSSL = true
			case "send-proxy-v2", "via-socks4":
				d.warnf(l, "unsupported directive (appl does not implement http-check connect %s yet; see docs/compatibility.md)", rest[i])
			case "sni", "alpn", "proto", "addr", "comment", "proxy-v2-options":
				if i+1 >= len(rest) {
					d.errorf(l, "http-check connect %s needs a value", rest[i])
					return
				}
				if rest[i] == "sni" {
					h.ConnectSNI = rest[i+1]
				} else if rest[i] != "comment" {
					d.warnf(l, "unsupported directive (appl does not implement http-check connect %s yet; see docs/compatibility.md)", rest[i])
				}
				i++
			default:
				d.errorf(l, "unknown http-check connect option %q (expected port N, send-proxy, ssl, sni, alpn, proto, addr, linger, comment)", rest[i])
				return
			}
		}
	case "comment":
		if len(rest) != 1 {
			d.errorf(l, "http-check comment takes one argument")
		}
	default:
		if action, _, _ := strings.Cut(args[0], "("); action == "set-var" || action == "set-var-fmt" || action == "unset-var" {
			d.unsupported(l, "http-check "+action)
			return
		}
		d.errorf(l, "unknown http-check action %q (expected send, expect, connect, disable-on-404, send-state or comment)", args[0])
	}
}

// badRequestPart checks what goes into the request line and headers of an HTTP check:
// a space or a line break would split the request.
func badRequestPart(h *HTTPCheck) string {
	for _, s := range []string{h.Method, h.URI, h.Version} {
		if s == "" || strings.ContainsAny(s, " \t\r\n\x00") {
			return fmt.Sprintf("http check request line part %q must be non-empty without spaces or line breaks", s)
		}
	}
	for _, kv := range h.Headers {
		if kv[0] == "" || strings.ContainsAny(kv[0], " \t:\r\n\x00") || strings.ContainsAny(kv[1], "\r\n\x00") {
			return fmt.Sprintf("http check header %q: invalid name or value", kv[0]+": "+kv[1])
		}
	}
	return ""
}

// validStatusList accepts HAProxy's status list: codes and ranges separated by commas.
func validStatusList(s string) bool {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 100 || b > 599 || a > b {
			return false
		}
	}
	return true
}

// finish applies section-wide checks and emits the frontend and backend halves.
func (p *proxy) finish(d *decoder) {
	head := p.head
	if p.isBackend() && p.httpCheckLine != nil && p.check.Kind != "httpchk" {
		d.warnf(*p.httpCheckLine, "%s uses http-check rules without `option httpchk`, so the rules are ignored (as HAProxy does)", p.label())
	}
	if p.isFrontend() {
		for i, ub := range p.useBackends {
			if ub.Backend != "" && !d.backendNames[ub.Backend] {
				d.errorf(p.useLines[i], "no backend named %q%s", ub.Backend, suggestName(ub.Backend, d.backendNames))
			}
		}
		if p.defaultBackend != "" && !d.backendNames[p.defaultBackend] {
			l := p.defBackendLine
			d.errorf(l, "no backend named %q%s", p.defaultBackend, suggestName(p.defaultBackend, d.backendNames))
		}
		if p.mode == ModeHTTP {
			check := func(name string, l cfgfile.Line) {
				if be := d.beNames[name]; be != nil && be.mode == ModeTCP {
					d.errorf(l, "backend %q is in mode tcp but %s %q is in mode http (expected mode http on both, or a tcp frontend)", name, p.kind, p.name)
				}
			}
			for i, ub := range p.useBackends {
				if ub.Backend != "" {
					check(ub.Backend, p.useLines[i])
				}
			}
			if p.defaultBackend != "" {
				check(p.defaultBackend, p.defBackendLine)
			}
		}
		if len(p.binds) == 0 {
			d.warnf(head, "%s %q has no bind line: it accepts no connection", p.kind, p.name)
		}
	}
	p.statsWarnings(d)
	if p.mode == ModeTCP {
		p.tcpModeWarnings(d)
	} else {
		at := head
		if p.modeLine != nil {
			at = *p.modeLine
		}
		if _, ok := notServedYet["mode http"]; ok && !p.warned["mode http"] {
			p.warned["mode http"] = true
			d.warnf(at, "parsed, not served yet: appl forwards the connections of %s as plain TCP until HTTP mode lands", p.label())
		}
	}
	if p.isBackend() {
		seen := map[string]cfgfile.Pos{}
		for _, s := range p.servers {
			if prev, dup := seen[s.Name]; dup {
				d.errs = append(d.errs, &cfgfile.Error{Pos: s.Pos, Directive: "server", Msg: "duplicate server name \"" + s.Name + "\" in " + p.kind + " \"" + p.name + "\" (first at " + prev.String() + "; appl identifies servers by backend and name)"})
				continue
			}
			seen[s.Name] = s.Pos
		}
	}
	p.emit(d)
}

func suggestName(n string, names map[string]bool) string {
	if s := closest(n, keys(names)); s != "" {
		return " (did you mean \"" + s + "\"?)"
	}
	return " (expected the name of a backend or listen section)"
}

// tcpModeWarnings reports HTTP-only settings in a tcp proxy, which HAProxy ignores.
func (p *proxy) tcpModeWarnings(d *decoder) {
	for name, on := range p.options {
		if on && httpOnlyOptions[name] {
			d.warnf(p.optionLines[name], "option %s requires mode http; ignored by tcp %s %q", name, p.kind, p.name)
		}
	}
	if p.options["httplog"] {
		d.warnf(p.optionLines["httplog"], "option httplog requires mode http; %s %q logs in tcplog format", p.kind, p.name)
		p.log.HTTPLog, p.log.TCPLog = false, true
	}
	if p.isBackend() && l7Algos[p.balance.Algo] && p.balanceLine != nil {
		d.warnf(*p.balanceLine, "balance %s requires mode http; tcp %s %q uses roundrobin", p.balance.Algo, p.kind, p.name)
		p.balance = Balance{Algo: "roundrobin", HashType: p.balance.HashType}
	}
	for _, r := range p.rules {
		kw := r.Keyword()
		if strings.HasPrefix(kw, "http-") || kw == "cookie" || kw == "redirect" {
			d.warnf(r, "%s requires mode http; ignored by tcp %s %q", kw, p.kind, p.name)
		}
	}
}

// statsWarnings reports a stats page HAProxy would ignore.
func (p *proxy) statsWarnings(d *decoder) {
	if p.mode == ModeTCP && len(p.prometheus) > 0 {
		at := cfgfile.Line{Pos: p.prometheus[0].Pos, Words: []string{"http-request"}}
		d.warnf(at, "http-request requires mode http; ignored by tcp %s %q", p.kind, p.name)
		p.prometheus = nil
	}
	if p.stats == nil {
		return
	}
	at := cfgfile.Line{Pos: p.stats.Pos, Words: []string{"stats"}}
	if p.mode == ModeTCP {
		d.warnf(at, "stats requires mode http; ignored by tcp %s %q", p.kind, p.name)
		p.stats = nil
	}
}

// emit builds the model's Frontend and Backend from the decoded section.
func (p *proxy) emit(d *decoder) {
	if p.isFrontend() {
		fe := &Frontend{
			Pos: p.pos, Name: p.name, Mode: p.mode, Binds: p.binds, MaxConn: p.maxconn,
			Timeouts: p.timeouts, DefaultBackend: p.defaultBackend, UseBackends: p.useBackends,
			ACLs: p.acls, Log: p.log, Disabled: p.disabled, Options: p.options,
			Description: p.description, Rules: p.rules, ForwardFor: p.forwardForArgs(),
		}
		if p.kind == "frontend" {
			fe.Stats, fe.Prometheus = p.stats, p.prometheus
		}
		if p.kind == "listen" && fe.DefaultBackend == "" {
			fe.DefaultBackend = p.name
		}
		d.cfg.Frontends = append(d.cfg.Frontends, fe)
		if p.logGlobal {
			d.logGlobal = append(d.logGlobal, &fe.Log)
		}
	}
	if p.isBackend() {
		bal := p.balance
		if bal.Algo == "" {
			bal.Algo = "roundrobin"
		}
		if bal.HashType == "" {
			bal.HashType = "map-based"
		}
		be := &Backend{
			Pos: p.pos, Name: p.name, Mode: p.mode, Balance: bal, Servers: p.servers,
			Timeouts: p.timeouts, Retries: p.retries, Redispatch: p.options["redispatch"],
			AllBackups: p.options["allbackups"], Log: p.log, Check: p.check, Source: p.source,
			FullConn: p.fullconn, Disabled: p.disabled, Options: p.options,
			Description: p.description, ACLs: p.acls, Rules: p.rules, ForwardFor: p.forwardForArgs(),
			Stats: p.stats, Prometheus: p.prometheus,
		}
		if p.kind == "listen" {
			// The two halves of a listen must not share mutable state.
			be.Options = maps.Clone(p.options)
			be.Log.Targets = p.log.Targets
			be.Rules = append([]cfgfile.Line(nil), p.rules...)
		}
		d.cfg.Backends = append(d.cfg.Backends, be)
		if p.logGlobal {
			d.logGlobal = append(d.logGlobal, &be.Log)
		}
	}
}

// forwardForArgs returns the words after `option forwardfor` (own or from defaults).
func (p *proxy) forwardForArgs() []string {
	if !p.options["forwardfor"] {
		return nil
	}
	l, ok := p.optionLines["forwardfor"]
	if !ok || len(l.Words) <= 2 {
		return nil
	}
	return append([]string(nil), l.Words[2:]...)
}

func strconvQuote(s string) string { return strconv.Quote(s) }
