package httpmode

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/http1"
	"appl/proxy/tcprules"
)

// Options tune Compile.
type Options struct {
	// ACL is used for the log-format strings and expressions of rules (BaseDir for
	// files, the node's map store).
	ACL acl.Options
	// BufSize is tune.bufsize: the read window per connection and the largest head
	// accepted (0: 16384).
	BufSize int
	// ForwardFor gives the arguments of `option forwardfor` by proxy name (frontend,
	// backend or listen). proxy/config records only that the option is on; a proxy with
	// the option on and no entry here uses X-Forwarded-For with no exception.
	ForwardFor map[string]ForwardFor
	// SkipUnsupported makes Compile skip rules whose action appl does not serve
	// (use-service, track-sc*, cache-use, ...) and list them in Program.Warnings,
	// instead of refusing the configuration. Off by default: a skipped rule may be part
	// of an access policy.
	SkipUnsupported bool
	// Stick returns the compiled tcp-request / stick rules (package tcprules) of the
	// section named name, from the same Build as the generation's stick tables (the
	// data plane compiles them before this Program and commits the Build after both
	// compiled). It gives http-request track-sc its tables and the sc_* / src_*
	// fetches of http-request rules their section. nil: track-sc is refused.
	Stick func(name string) *tcprules.Rules
}

// ForwardFor is `option forwardfor [except NET] [header NAME] [if-none]`.
type ForwardFor struct {
	Header string       // "" means X-Forwarded-For
	Except netip.Prefix // clients in this network get no header
	IfNone bool         // add only when the request has none
}

// ParseForwardFor reads the arguments after `option forwardfor`.
func ParseForwardFor(args []string) (ForwardFor, error) {
	var f ForwardFor
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "except", "header":
			if i+1 >= len(args) {
				return f, fmt.Errorf("option forwardfor %s needs a value", args[i])
			}
			if args[i] == "header" {
				if !validToken(args[i+1]) {
					return f, fmt.Errorf("option forwardfor header: %q is not a header name", args[i+1])
				}
				f.Header = args[i+1]
			} else {
				p, err := parsePrefix(args[i+1])
				if err != nil {
					return f, fmt.Errorf("option forwardfor except: %v", err)
				}
				f.Except = p
			}
			i++
		case "if-none":
			f.IfNone = true
		default:
			return f, fmt.Errorf("unknown option forwardfor argument %q (expected except NET, header NAME or if-none)", args[i])
		}
	}
	return f, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		a, m, _ := strings.Cut(s, "/")
		if strings.Contains(m, ".") { // dotted mask
			ma, err := netip.ParseAddr(m)
			if err != nil {
				return netip.Prefix{}, err
			}
			ones := 0
			for _, b := range ma.AsSlice() {
				for ; b&0x80 != 0; b <<= 1 {
					ones++
				}
			}
			s = a + "/" + strconv.Itoa(ones)
		}
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// connMode is the connection handling of option http-keep-alive / http-server-close /
// httpclose.
type connMode uint8

const (
	modeKeepAlive connMode = iota
	modeServerClose
	modeClose
)

func modeOf(opts map[string]bool) connMode {
	switch {
	case opts["httpclose"]:
		return modeClose
	case opts["http-server-close"]:
		return modeServerClose
	}
	return modeKeepAlive
}

// Program is the compiled `mode http` part of a configuration: every http frontend with
// the http backends it can reach. Build one per configuration generation.
type Program struct {
	frontends map[string]*Frontend
	backends  map[string]*backendProg
	// Warnings lists the rules skipped with Options.SkipUnsupported.
	Warnings []*cfgfile.Error
}

// Frontend returns the compiled frontend, nil when it is not an http frontend.
func (p *Program) Frontend(name string) *Frontend { return p.frontends[name] }

// Frontend is one compiled http frontend; Serve runs client connections through it.
// It is read-only after Compile and shared by all its sessions.
type Frontend struct {
	name        string
	reqRules    []*rule
	redirects   []*rule
	respRules   []*rule
	useBackends []config.UseBackend
	defBackend  string
	backends    map[string]*backendProg
	self        *backendProg // the backend half of the same listen section, if any
	fwd         *ForwardFor
	mode        connMode
	to          config.Timeouts
	errorfiles  map[int][]byte
	lim         http1.Limits
	bufSize     int
	stick       *tcprules.Rules
	resp        Responder // the frontend's own page (SetResponder), nil: none
}

// Name returns the frontend's name.
func (f *Frontend) Name() string { return f.name }

type backendProg struct {
	name       string
	reqRules   []*rule
	respRules  []*rule
	cookie     *cookieSpec
	byCookie   map[string]string // cookie value -> server name
	cookieOf   map[string]string // server name -> cookie value
	hash       hashSpec
	fwd        *ForwardFor
	mode       connMode
	to         config.Timeouts
	errorfiles map[int][]byte
	stick      *tcprules.Rules
}

// Compile builds the Program of cfg's http frontends and backends. Errors are
// positioned at the offending line.
func Compile(cfg *config.Config, opt Options) (*Program, error) {
	if opt.BufSize <= 0 {
		opt.BufSize = http1.DefaultBufSize
	}
	p := &Program{frontends: map[string]*Frontend{}, backends: map[string]*backendProg{}}
	var errs cfgfile.Errors
	add := func(err error) {
		if err == nil {
			return
		}
		if ce, ok := err.(*cfgfile.Error); ok {
			errs = append(errs, ce)
			return
		}
		errs = append(errs, &cfgfile.Error{Msg: err.Error()})
	}
	for _, b := range cfg.Backends {
		if b.Mode != config.ModeHTTP {
			continue
		}
		bp, err := compileBackend(b, opt, &p.Warnings)
		add(err)
		if bp != nil {
			p.backends[b.Name] = bp
		}
	}
	for _, fe := range cfg.Frontends {
		if fe.Mode != config.ModeHTTP {
			continue
		}
		f, err := compileFrontend(fe, opt, &p.Warnings)
		add(err)
		if f != nil {
			f.backends = p.backends
			// A listen's two halves carry the same rule lines: from its own frontend
			// half they run once, as frontend rules.
			if b := cfg.Backend(fe.Name); b != nil && b.Pos == fe.Pos {
				f.self = p.backends[fe.Name]
			}
			p.frontends[fe.Name] = f
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

func fwdFor(name string, opts map[string]bool, opt Options) *ForwardFor {
	if !opts["forwardfor"] {
		return nil
	}
	f := opt.ForwardFor[name]
	if f.Header == "" {
		f.Header = "X-Forwarded-For"
	}
	return &f
}

// skippable reports whether err is an unsupported action that opt allows to skip; it
// records the warning.
func skippable(err error, opt Options, warn *[]*cfgfile.Error) bool {
	ce, ok := err.(*cfgfile.Error)
	if !ok || !opt.SkipUnsupported || !strings.HasPrefix(ce.Msg, "unsupported") {
		return false
	}
	w := *ce
	w.Msg += "; rule skipped"
	*warn = append(*warn, &w)
	return true
}

func compileFrontend(fe *config.Frontend, opt Options, warn *[]*cfgfile.Error) (*Frontend, error) {
	f := &Frontend{
		name: fe.Name, useBackends: fe.UseBackends, defBackend: fe.DefaultBackend,
		fwd: fwdFor(fe.Name, fe.Options, opt), mode: modeOf(fe.Options), to: fe.Timeouts,
		errorfiles: map[int][]byte{}, lim: http1.Limits{MaxHead: opt.BufSize}, bufSize: opt.BufSize,
		stick: stickOf(opt, fe.Name),
	}
	rp := ruleParser{set: fe.ACLs, opt: opt.ACL, proxy: fe.Name, baseDir: opt.ACL.BaseDir, stick: f.stick}
	for _, l := range fe.Rules {
		var err error
		switch l.Keyword() {
		case "http-request", "http-response", "redirect":
			var r *rule
			if r, err = rp.parse(l); err == nil {
				switch l.Keyword() {
				case "http-request":
					f.reqRules = append(f.reqRules, r)
				case "http-response":
					f.respRules = append(f.respRules, r)
				default:
					f.redirects = append(f.redirects, r)
				}
			}
		case "errorfile":
			err = loadErrorfile(l, rp.baseDir, f.errorfiles)
		}
		if err != nil && !skippable(err, opt, warn) {
			return nil, err
		}
	}
	return f, nil
}

func compileBackend(b *config.Backend, opt Options, warn *[]*cfgfile.Error) (*backendProg, error) {
	bp := &backendProg{
		name: b.Name, fwd: fwdFor(b.Name, b.Options, opt), mode: modeOf(b.Options), to: b.Timeouts,
		errorfiles: map[int][]byte{}, byCookie: map[string]string{}, cookieOf: map[string]string{},
		stick: stickOf(opt, b.Name),
	}
	rp := ruleParser{set: b.ACLs, opt: opt.ACL, proxy: b.Name, baseDir: opt.ACL.BaseDir, stick: bp.stick}
	for _, l := range b.Rules {
		var err error
		switch l.Keyword() {
		case "http-request", "http-response":
			var r *rule
			if r, err = rp.parse(l); err == nil {
				if l.Keyword() == "http-request" {
					bp.reqRules = append(bp.reqRules, r)
				} else {
					bp.respRules = append(bp.respRules, r)
				}
			}
		case "cookie":
			bp.cookie, err = parseCookie(l)
		case "errorfile":
			err = loadErrorfile(l, rp.baseDir, bp.errorfiles)
		}
		if err != nil && !skippable(err, opt, warn) {
			return nil, err
		}
	}
	for _, s := range b.Servers {
		if s.Cookie != "" {
			bp.byCookie[s.Cookie] = s.Name
			bp.cookieOf[s.Name] = s.Cookie
		}
	}
	h, err := parseHash(b.Balance, opt.ACL)
	if err != nil {
		return nil, &cfgfile.Error{Pos: b.Pos, Directive: "balance", Msg: err.Error()}
	}
	bp.hash = h
	return bp, nil
}

// loadErrorfile reads `errorfile CODE FILE`: a complete HTTP response sent as is in
// place of the built-in page for CODE. Bare LF line ends in the head become CRLF.
func loadErrorfile(l cfgfile.Line, base string, into map[int][]byte) error {
	if len(l.Words) != 3 {
		return l.Errorf("expected errorfile CODE FILE")
	}
	code, err := strconv.Atoi(l.Words[1])
	if err != nil || code < 200 || code > 599 {
		return l.Errorf("bad status code %q (expected 200..599)", l.Words[1])
	}
	rp := ruleParser{baseDir: base}
	b, err := os.ReadFile(rp.path(l.Words[2]))
	if err != nil {
		return l.Errorf("%v", err)
	}
	if err := checkRawResponse(b); err != nil {
		return l.Errorf("%s: %v", l.Words[2], err)
	}
	if !bytes.Contains(b, []byte("\r\n\r\n")) {
		i := bytes.Index(b, []byte("\n\n"))
		head := bytes.ReplaceAll(b[:i+2], []byte("\n"), []byte("\r\n"))
		b = append(head, b[i+2:]...)
	}
	into[code] = b
	return nil
}

// timeouts resolved for one request.
type timeouts struct {
	client, server, httpRequest, keepAlive, tunnel time.Duration
}

func (f *Frontend) timeouts(b *backendProg) timeouts {
	t := timeouts{client: f.to.Client, httpRequest: f.to.HTTPRequest, keepAlive: f.to.HTTPKeepAlive}
	if t.httpRequest <= 0 {
		t.httpRequest = t.client
	}
	if t.keepAlive <= 0 {
		t.keepAlive = t.httpRequest
	}
	if b != nil {
		t.server = b.to.Server
		t.tunnel = b.to.Tunnel
	}
	if t.tunnel <= 0 {
		t.tunnel = f.to.Tunnel
	}
	return t
}
