package stats

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"appl/proxy/acl"
	"appl/proxy/config"
	"appl/proxy/http1"
	"appl/proxy/userlist"
)

// Page is the stats page of one proxy (`stats uri`, ...) and, when the proxy has
// `http-request use-service prometheus-exporter` rules, its Prometheus endpoint. It
// answers through the http engine's Responder contract.
type Page struct {
	self string // the proxy holding the page (`stats scope .`)
	cfg  *config.StatsConfig
	prom []config.PrometheusRule
	src  Source
	now  func() time.Time
}

// New returns the page of proxy self. cfg may be nil when the proxy only exports
// Prometheus metrics (prom non-empty). Both nil: nil.
func New(self string, cfg *config.StatsConfig, prom []config.PrometheusRule, src Source) *Page {
	if cfg == nil && len(prom) == 0 {
		return nil
	}
	return &Page{self: self, cfg: cfg, prom: prom, src: src, now: time.Now}
}

// maxBody is the largest admin form RespondBody accepts (BodyLimit).
const maxBody = maxFormBytes

// BodyLimit says how many request body bytes the page needs to answer req: the admin
// form of a POST to the page's URI. The engine reads up to that many bytes of a
// Content-Length body and calls RespondBody; 0 means Respond is enough.
func (p *Page) BodyLimit(req *http1.Request) int {
	if p.cfg == nil || !req.IsMethod("POST") {
		return 0
	}
	if _, ok := p.match(req); !ok {
		return 0
	}
	return maxBody
}

// Respond answers requests for the page (and the Prometheus endpoint); handled is false
// for the others, which the backend forwards. A POST's admin form is read from the query
// string here (`curl -X POST 'URI?b=be&s=srv&action=maint'`); the form body of a browser
// needs RespondBody.
func (p *Page) Respond(dst []byte, req *http1.Request, txn *acl.Txn) ([]byte, int, bool) {
	return p.respond(dst, req, nil, false, txn)
}

// RespondBody is Respond for a request whose body (the admin form) the engine read.
func (p *Page) RespondBody(dst []byte, req *http1.Request, body []byte, txn *acl.Txn) ([]byte, int, bool) {
	return p.respond(dst, req, body, true, txn)
}

func (p *Page) respond(dst []byte, req *http1.Request, body []byte, haveBody bool, txn *acl.Txn) ([]byte, int, bool) {
	for _, r := range p.prom {
		if r.Cond == nil || r.Cond.Match(txn) {
			return p.prometheus(dst, req), 200, true
		}
	}
	if p.cfg == nil {
		return dst, 0, false
	}
	opts, ok := p.match(req)
	if !ok {
		return dst, 0, false
	}
	if status, realm := p.authorize(req, txn); status != 0 {
		if status == 401 {
			return appendUnauthorized(dst, realm), 401, true
		}
		return appendForbidden(dst), 403, true
	}
	admin := p.cfg.Admin != nil && p.cfg.Admin.Match(txn)
	if req.IsMethod("POST") {
		if !admin {
			return appendForbidden(dst), 403, true
		}
		if !sameOrigin(req) {
			return appendForbidden(dst), 403, true
		}
		form := ""
		switch {
		case haveBody:
			form = string(body)
		case req.Framing().Kind != http1.BodyNone:
			// A browser's form is in the body, which this engine did not pass.
			return appendSimple(dst, 501, "Not Implemented", "text/plain", "the stats admin form needs the request body; use the query string (?b=BACKEND&s=SERVER&action=ready|drain|maint)\n", false), 501, true
		default:
			q, _ := req.Query()
			form = string(q)
		}
		return p.admin(dst, form, opts.base), 303, true
	}
	snap := p.snapshot()
	head := req.IsMethod("HEAD")
	if opts.csv {
		out := AppendCSVHeader(nil)
		for _, r := range Rows(snap) {
			if opts.keep(&r) {
				out = r.AppendCSV(out)
			}
		}
		return appendSimple(dst, 200, "OK", "text/plain", string(out), head), 200, true
	}
	html := p.renderHTML(snap, opts, admin)
	return appendSimple(dst, 200, "OK", "text/html; charset=utf-8", html, head), 200, true
}

// ServiceName is the server name HAProxy logs for a request the page answered:
// "<PROMEX>" for the Prometheus exporter, "<STATS>" for the page (httpmode.ServiceNamer).
func (p *Page) ServiceName(req *http1.Request, txn *acl.Txn) string {
	for _, r := range p.prom {
		if r.Cond == nil || r.Cond.Match(txn) {
			return "<PROMEX>"
		}
	}
	return "<STATS>"
}

// pageOpts are the `;csv;norefresh;up;no-maint;st=X` suffixes of the page's URI.
type pageOpts struct {
	base      string // the page's URI as requested, before the options
	csv       bool
	norefresh bool
	up        bool
	noMaint   bool
	status    string // st=: outcome of the last admin action
}

// match says whether req asks for the page: its URI (path and query) starts with the
// configured prefix, as HAProxy compares them.
func (p *Page) match(req *http1.Request) (pageOpts, bool) {
	// A frontend's page sees every request of the frontend: tell the others apart
	// without building the URI string.
	if !uriHasPrefix(req, p.cfg.URI) {
		return pageOpts{}, false
	}
	uri := string(req.Path())
	if q, ok := req.Query(); ok {
		uri += "?" + string(q)
	}
	if !strings.HasPrefix(uri, p.cfg.URI) {
		return pageOpts{}, false
	}
	o := pageOpts{base: p.cfg.URI}
	rest := uri[len(p.cfg.URI):]
	for _, tok := range strings.Split(rest, ";")[1:] {
		tok, _, _ = strings.Cut(tok, "?")
		switch {
		case tok == "csv":
			o.csv = true
		case tok == "norefresh":
			o.norefresh = true
		case tok == "up":
			o.up = true
		case tok == "no-maint":
			o.noMaint = true
		case strings.HasPrefix(tok, "st="):
			o.status = tok[3:]
		}
	}
	return o, true
}

// uriHasPrefix reports whether path, then "?" and the query when there is one, starts
// with prefix, without allocating.
func uriHasPrefix(req *http1.Request, prefix string) bool {
	path := req.Path()
	if len(prefix) <= len(path) {
		return string(path[:len(prefix)]) == prefix
	}
	if string(path) != prefix[:len(path)] {
		return false
	}
	rest := prefix[len(path):]
	q, ok := req.Query()
	if !ok || rest[0] != '?' {
		return false
	}
	rest = rest[1:]
	return len(rest) <= len(q) && string(q[:len(rest)]) == rest
}

func (o *pageOpts) keep(r *Row) bool {
	if r.Type != TypeServer {
		return true
	}
	st := r.Get(ColStatus)
	if o.up && !strings.HasPrefix(st, "UP") && st != "no check" {
		return false
	}
	return !(o.noMaint && strings.HasPrefix(st, "MAINT"))
}

// authorize runs `stats http-request` rules then, with `stats auth` users, the implicit
// rule HAProxy adds: `auth unless <valid stats user>` (skipped when the last explicit
// rule is unconditional). It returns 0 when the request may see the page, else 401 (with
// the realm) or 403.
func (p *Page) authorize(req *http1.Request, txn *acl.Txn) (int, string) {
	for _, r := range p.cfg.Rules {
		if r.Cond != nil && !r.Cond.Match(txn) {
			continue
		}
		switch r.Action {
		case "allow":
			return 0, ""
		case "deny":
			return 403, ""
		case "auth":
			realm := r.Realm
			if realm == "" {
				realm = p.cfg.Realm
			}
			return 401, realm
		}
	}
	if len(p.cfg.Users) > 0 && !p.statsUser(req) {
		return 401, p.cfg.Realm
	}
	return 0, ""
}

// statsUser checks Basic credentials against the `stats auth` lines.
func (p *Page) statsUser(req *http1.Request) bool {
	user, pass, ok := basicAuth(req)
	if !ok {
		return false
	}
	found := false
	for _, u := range p.cfg.Users {
		// Every line is compared so the time does not tell which user exists.
		if userlist.Check(user, u.Name, true) && userlist.Check(pass, u.Password, true) {
			found = true
		}
	}
	return found
}

func basicAuth(req *http1.Request) (user, pass string, ok bool) {
	h, ok := req.Header("authorization")
	if !ok {
		return "", "", false
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(string(h)), " ")
	if !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// sameOrigin is the admin form's CSRF guard (HAProxy has none). A browser sends Origin
// (or at least Referer) with a form POST: when present, its host must be the request's
// Host, and Sec-Fetch-Site must not say cross-site. A request with neither header is
// not from a browser page (curl, scripts) and is accepted: an attacker's page cannot
// make a browser drop both.
func sameOrigin(req *http1.Request) bool {
	host, _ := req.Header("host")
	if len(host) == 0 {
		host = req.Authority()
	}
	if site, ok := req.Header("sec-fetch-site"); ok {
		switch string(site) {
		case "same-origin", "none":
		default:
			return false
		}
	}
	check := func(v string) bool {
		_, rest, ok := strings.Cut(v, "://")
		if !ok {
			return false
		}
		h, _, _ := strings.Cut(rest, "/")
		return h != "" && strings.EqualFold(h, string(host))
	}
	if o, ok := req.Header("origin"); ok {
		return check(string(o))
	}
	if r, ok := req.Header("referer"); ok {
		return check(string(r))
	}
	return true
}

// admin applies a form and answers 303 to the page with HAProxy's outcome code:
// DONE (all applied), PART (some), NONE (nothing to do), ERRP (bad form), UNKN (no such
// backend).
func (p *Page) admin(dst []byte, form, base string) []byte {
	st := "DONE"
	f, err := ParseAdminForm(form)
	switch {
	case err == errFormMissing:
		st = "NONE"
	case err != nil:
		st = "ERRP"
	default:
		be, ok := p.resolveBackend(f.Backend)
		if !ok {
			st = "UNKN"
			break
		}
		done := 0
		for _, s := range f.Servers {
			var e error
			if f.Action == "weight" {
				e = p.src.SetServerWeight(be, s, f.Weight)
			} else {
				e = p.src.SetServerState(be, s, f.State)
			}
			if e == nil {
				done++
			}
		}
		switch {
		case done == 0:
			st = "ERRP"
		case done < len(f.Servers):
			st = "PART"
		}
	}
	loc := base + ";st=" + st
	return append(dst, "HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nLocation: "+loc+"\r\n\r\n"...)
}

// resolveBackend reads the form's b: "#IID" (HAProxy's form) or a backend name, within
// the page's scope.
func (p *Page) resolveBackend(b string) (string, bool) {
	snap := p.snapshot()
	for i := range snap.Proxies {
		px := &snap.Proxies[i]
		if px.Backend == nil {
			continue
		}
		iid := px.ID
		if iid == 0 {
			iid = i + 1
		}
		if b == px.Name || b == "#"+strconv.Itoa(iid) {
			return px.Name, true
		}
	}
	return "", false
}

// snapshot reads the source and applies the page's settings and scope.
func (p *Page) snapshot() *Snapshot {
	s := p.src.Snapshot()
	if p.cfg != nil {
		if p.cfg.NodeName != "" {
			s.Node = p.cfg.NodeName
		}
		if p.cfg.Desc != "" {
			s.Description = p.cfg.Desc
		}
		if len(p.cfg.Scope) > 0 {
			kept := s.Proxies[:0:0]
			for _, px := range s.Proxies {
				for _, sc := range p.cfg.Scope {
					if sc == px.Name || (sc == "." && px.Name == p.self) {
						kept = append(kept, px)
						break
					}
				}
			}
			s.Proxies = kept
		}
	}
	if s.Now.IsZero() {
		s.Now = p.now()
	}
	return s
}

func appendSimple(dst []byte, code int, reason, ctype, body string, head bool) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	dst = append(dst, "\r\nCache-Control: no-cache\r\nContent-Type: "...)
	dst = append(dst, ctype...)
	// The admin form must not be framed by another site (clickjacking).
	dst = append(dst, "\r\nX-Frame-Options: DENY\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	if !head {
		dst = append(dst, body...)
	}
	return dst
}

// HAProxy's texts for 401 and 403.
const (
	body401 = "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"
	body403 = "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
)

func appendUnauthorized(dst []byte, realm string) []byte {
	dst = append(dst, "HTTP/1.1 401 Unauthorized\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\nWWW-Authenticate: Basic realm=\""...)
	dst = append(dst, realm...)
	dst = append(dst, "\"\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body401)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body401...)
}

func appendForbidden(dst []byte) []byte {
	return appendSimple(dst, 403, "Forbidden", "text/html", body403, false)
}
