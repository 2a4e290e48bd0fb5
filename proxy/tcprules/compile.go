package tcprules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/stick"
)

// Role says which halves of a proxy a section has: a frontend runs tcp-request
// connection and session rules, a backend runs stick rules, both run content rules and
// may declare a table.
type Role uint8

// Roles. A listen section is Frontend|Backend.
const (
	Frontend Role = 1 << iota
	Backend
	Listen = Frontend | Backend
)

// Options tune Compile.
type Options struct {
	// ACL parses the key expressions of track-sc and stick rules (`src`,
	// `req.hdr(x),lower`): give the same BaseDir and Maps as the section's acl.Set.
	ACL acl.Options
	// HAProxyStickCounts turns off appl's counting of connections on the entries that
	// stick store rules write (see doc.go): conn_cnt then stays 0 on them, as in HAProxy.
	HAProxyStickCounts bool
}

// Rules are the compiled tcp-request, stick and stick-table directives of one section.
// They are read-only once compiled and shared by every connection.
type Rules struct {
	name  string
	role  Role
	build *Build
	own   *slot // the section's own stick-table, nil when it has none

	inspectDelay time.Duration
	conn         []rule
	sess         []rule
	content      []rule
	stick        []stickRule
	needsData    bool
	countStick   bool
}

// Name returns the section name.
func (r *Rules) Name() string { return r.name }

// Table returns the section's own stick table (after Commit), nil when none.
func (r *Rules) Table() *stick.Table {
	if r.own == nil {
		return nil
	}
	return r.own.t
}

// InspectDelay is `tcp-request inspect-delay`: how long the data plane may wait for
// client data before running the content rules (0: do not wait).
func (r *Rules) InspectDelay() time.Duration { return r.inspectDelay }

// NeedsData reports whether the content rules may read client data (payload, SNI,
// HTTP): only then, and only with an inspect-delay, should the data plane wait for data
// before calling Content. When false, call Content right away.
func (r *Rules) NeedsData() bool { return r.needsData }

// HasStick reports whether the section has stick rules (StickServer/StickStore needed).
func (r *Rules) HasStick() bool { return len(r.stick) > 0 }

// HasContent reports whether the section has tcp-request content rules.
func (r *Rules) HasContent() bool { return len(r.content) > 0 }

type action uint8

const (
	actAccept action = iota + 1
	actReject
	actSilentDrop
	actTrack
	actIncGPC0
	actIncGPC1
	actSetGPT0
	actSetVar
	actUnsetVar
)

// rule is one tcp-request connection|session|content rule.
type rule struct {
	pos     cfgfile.Pos
	act     action
	sc      int       // track-scN, sc-inc-gpc0(N) ...
	key     *acl.Expr // track key, set-var / sc-set-gpt0 expression
	val     int64     // sc-set-gpt0 integer
	varName string
	table   *slot // track-sc table; nil slot pointer means the section's own
	cond    *acl.Cond
}

type stickKind uint8

const (
	stickMatch stickKind = 1 << iota
	stickStore
	stickResponse
)

// stickRule is one `stick on|match|store-request|store-response` line.
type stickRule struct {
	pos   cfgfile.Pos
	kind  stickKind
	key   *acl.Expr
	table *slot
	cond  *acl.Cond
}

// Compile turns the lines of one proxy section into Rules. lines may hold any
// directive: the ones this package serves (stick-table, tcp-request, stick) are
// compiled, the others are left to their owners. A directive for the other half of a
// proxy (stick in a frontend, tcp-request connection in a backend) is skipped: the
// decoder warns about those, and a listen section compiled once per half keeps each
// rule in the half that runs it. Tables are declared into b; the Rules work once b is
// committed. acls resolves named ACLs in conditions.
func Compile(name string, role Role, lines []cfgfile.Line, acls *acl.Set, b *Build, opt Options) (*Rules, error) {
	if acls == nil {
		acls = acl.NewSet(opt.ACL)
	}
	r := &Rules{name: name, role: role, build: b, countStick: !opt.HAProxyStickCounts}
	c := compiler{r: r, acls: acls, b: b, opt: opt}
	var errs cfgfile.Errors
	add := func(err error) {
		if err == nil {
			return
		}
		if es := cfgfile.AsErrors(err); len(es) > 0 {
			errs = append(errs, es...)
			return
		}
		errs = append(errs, &cfgfile.Error{Msg: err.Error()})
	}
	// Tables first, so that rules find the section's own table wherever it is declared.
	for _, l := range lines {
		if l.Keyword() == "stick-table" {
			add(c.table(l))
		}
	}
	for _, l := range lines {
		switch l.Keyword() {
		case "tcp-request":
			add(c.tcpRequest(l))
		case "stick":
			if role&Backend != 0 {
				add(c.stickRule(l))
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

type compiler struct {
	r    *Rules
	acls *acl.Set
	b    *Build
	opt  Options
}

func (c *compiler) table(l cfgfile.Line) error {
	if c.r.own != nil {
		return l.Errorf("only one stick-table per section (expected a single stick-table line in %q)", c.r.name)
	}
	def, err := stick.ParseDef(l.Words)
	if err != nil {
		return l.Errorf("%s", strings.TrimPrefix(err.Error(), "stick-table: "))
	}
	s, err := c.b.declare(l, c.r.name, def)
	if err != nil {
		return err
	}
	c.r.own = s
	return nil
}

const tcpActions = "accept, reject, silent-drop, track-sc0, track-sc1, track-sc2, sc-inc-gpc0(N), sc-inc-gpc1(N), sc-set-gpt0(N), set-var(NAME) or unset-var(NAME)"

func (c *compiler) tcpRequest(l cfgfile.Line) error {
	w := l.Words
	if len(w) < 2 {
		return l.Errorf("missing ruleset (expected connection, session, content or inspect-delay)")
	}
	switch w[1] {
	case "inspect-delay":
		if len(w) != 3 {
			return l.Errorf("inspect-delay takes one time value (expected tcp-request inspect-delay TIME, e.g. 5s)")
		}
		d, err := stick.ParseTime(w[2])
		if err != nil || d < 0 {
			return l.Errorf("bad inspect-delay %q (expected a time such as 500ms or 5s)", w[2])
		}
		c.r.inspectDelay = d
		return nil
	case "connection", "session":
		if c.r.role&Frontend == 0 {
			return nil
		}
	case "content":
	default:
		return l.Errorf("unknown tcp-request ruleset %q (expected connection, session, content or inspect-delay)", w[1])
	}
	if len(w) < 3 {
		return l.Errorf("missing action (expected %s)", tcpActions)
	}
	ru, err := c.tcpRule(l, w[1], w[2:])
	if err != nil {
		return err
	}
	switch w[1] {
	case "connection":
		c.r.conn = append(c.r.conn, ru)
	case "session":
		c.r.sess = append(c.r.sess, ru)
	case "content":
		c.r.content = append(c.r.content, ru)
		if !c.r.needsData && readsData(l, ru) {
			c.r.needsData = true
		}
	}
	return nil
}

// unsupportedActions are HAProxy tcp-request actions appl does not serve yet: refused
// with a clear error rather than ignored (a rule silently dropped could let traffic
// through that the configuration refuses).
var unsupportedActions = map[string]bool{
	"expect-proxy": true, "expect-netscaler-cip": true, "capture": true, "set-src": true,
	"set-src-port": true, "set-dst": true, "set-dst-port": true, "set-mark": true,
	"set-tos": true, "do-resolve": true, "use-service": true, "switch-mode": true,
	"send-spoe-group": true, "lua": true, "set-log-level": true, "set-nice": true,
	"attach-srv": true, "set-bandwidth-limit": true, "sc-add-gpc": true, "sc-inc-gpc": true,
	"sc-set-gpt": true, "set-fc-mark": true, "set-fc-tos": true,
}

func (c *compiler) tcpRule(l cfgfile.Line, set string, w []string) (rule, error) {
	ru := rule{pos: l.Pos}
	act := w[0]
	rest := w[1:]
	switch {
	case act == "accept":
		ru.act = actAccept
	case act == "reject":
		ru.act = actReject
	case act == "silent-drop":
		ru.act = actSilentDrop
	case strings.HasPrefix(act, "track-sc"):
		n, err := scNumber(act[len("track-sc"):])
		if err != nil {
			return ru, l.Errorf("%s: %v", act, err)
		}
		ru.act, ru.sc = actTrack, n
		if len(rest) == 0 || rest[0] == "if" || rest[0] == "unless" {
			return ru, l.Errorf("%s: missing key (expected %s KEY [table NAME] [if|unless COND], e.g. %s src)", act, act, act)
		}
		e, err := c.expr(l, rest[0])
		if err != nil {
			return ru, err
		}
		ru.key = e
		rest = rest[1:]
		if len(rest) > 0 && rest[0] == "table" {
			if len(rest) < 2 {
				return ru, l.Errorf("%s: 'table' needs a table name", act)
			}
			ru.table = c.b.ref(l, rest[1], false)
			rest = rest[2:]
		} else if c.r.own == nil {
			return ru, l.Errorf("%s: section %q has no stick-table (expected a stick-table line here or 'table NAME')", act, c.r.name)
		} else {
			ru.table = c.r.own
		}
	case strings.HasPrefix(act, "sc-inc-gpc0(") || strings.HasPrefix(act, "sc-inc-gpc1(") || strings.HasPrefix(act, "sc-set-gpt0("):
		arg, ok := callArg(act)
		if !ok {
			return ru, l.Errorf("bad action %q (expected %s(N) with N 0, 1 or 2)", act, act[:strings.IndexByte(act, '(')])
		}
		n, err := scNumber(arg)
		if err != nil {
			return ru, l.Errorf("%s: %v", act, err)
		}
		ru.sc = n
		switch act[:11] {
		case "sc-inc-gpc0":
			ru.act = actIncGPC0
		case "sc-inc-gpc1":
			ru.act = actIncGPC1
		default:
			ru.act = actSetGPT0
			if len(rest) == 0 || rest[0] == "if" || rest[0] == "unless" {
				return ru, l.Errorf("%s: missing value (expected an integer or a sample expression)", act)
			}
			if v, err := strconv.ParseInt(rest[0], 10, 64); err == nil {
				ru.val = v
			} else if ru.key, err = c.expr(l, rest[0]); err != nil {
				return ru, err
			}
			rest = rest[1:]
		}
	case strings.HasPrefix(act, "set-var(") || strings.HasPrefix(act, "unset-var("):
		name, ok := callArg(act)
		if !ok {
			return ru, l.Errorf("bad action %q (expected set-var(SCOPE.NAME) EXPR or unset-var(SCOPE.NAME))", act)
		}
		if err := acl.ValidVarName(name); err != nil {
			return ru, l.Errorf("%s: %v", act, err)
		}
		ru.varName = name
		if act[0] == 'u' {
			ru.act = actUnsetVar
			break
		}
		ru.act = actSetVar
		if len(rest) == 0 || rest[0] == "if" || rest[0] == "unless" {
			return ru, l.Errorf("%s: missing expression (expected set-var(%s) EXPR)", act, name)
		}
		e, err := c.expr(l, rest[0])
		if err != nil {
			return ru, err
		}
		ru.key = e
		rest = rest[1:]
	default:
		base := act
		if i := strings.IndexByte(base, '('); i >= 0 {
			base = base[:i]
		}
		if unsupportedActions[base] {
			return ru, l.Errorf("tcp-request %s action %q is not supported by appl yet (supported: %s)", set, base, tcpActions)
		}
		return ru, l.Errorf("unknown tcp-request %s action %q (expected %s)", set, act, tcpActions)
	}
	cond, err := c.cond(l, rest)
	if err != nil {
		return ru, err
	}
	ru.cond = cond
	return ru, nil
}

// cond parses an optional `if|unless COND` tail; anything else is an error naming it.
func (c *compiler) cond(l cfgfile.Line, rest []string) (*acl.Cond, error) {
	if len(rest) == 0 {
		return nil, nil
	}
	if rest[0] != "if" && rest[0] != "unless" {
		return nil, l.Errorf("unexpected %q (expected if or unless followed by a condition, or the end of the line)", rest[0])
	}
	return c.acls.ParseCond(l, rest)
}

func (c *compiler) expr(l cfgfile.Line, src string) (*acl.Expr, error) {
	opt := c.opt.ACL
	opt.Where = l.Pos
	e, err := acl.ParseExpr(src, opt)
	if err != nil {
		return nil, l.Errorf("bad sample expression %q: %v", src, err)
	}
	return e, nil
}

const stickForms = "stick on|match|store-request|store-response KEY [table NAME] [if|unless COND]"

func (c *compiler) stickRule(l cfgfile.Line) error {
	w := l.Words
	if len(w) < 2 {
		return l.Errorf("missing rule (expected %s)", stickForms)
	}
	sr := stickRule{pos: l.Pos}
	switch w[1] {
	case "on":
		sr.kind = stickMatch | stickStore
	case "match":
		sr.kind = stickMatch
	case "store-request":
		sr.kind = stickStore
	case "store-response":
		sr.kind = stickStore | stickResponse
	default:
		return l.Errorf("unknown stick rule %q (expected %s)", w[1], stickForms)
	}
	if len(w) < 3 || w[2] == "if" || w[2] == "unless" || w[2] == "table" {
		return l.Errorf("stick %s: missing key (expected %s, e.g. stick %s src)", w[1], stickForms, w[1])
	}
	e, err := c.expr(l, w[2])
	if err != nil {
		return err
	}
	sr.key = e
	rest := w[3:]
	if len(rest) > 0 && rest[0] == "table" {
		if len(rest) < 2 {
			return l.Errorf("stick %s: 'table' needs a table name", w[1])
		}
		sr.table = c.b.ref(l, rest[1], true)
		rest = rest[2:]
	} else if c.r.own == nil {
		return l.Errorf("stick %s: section %q has no stick-table (expected a stick-table line here or 'table NAME')", w[1], c.r.name)
	} else {
		// Stick rules store server_id and server_key in the table.
		sr.table = c.b.ref(l, c.r.name, true)
	}
	if sr.cond, err = c.cond(l, rest); err != nil {
		return err
	}
	c.r.stick = append(c.r.stick, sr)
	return nil
}

func scNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= MaxSC {
		return 0, fmt.Errorf("stick counter %q out of range (expected 0, 1 or 2: appl tracks sc0 to sc2)", s)
	}
	return n, nil
}

// callArg returns the inside of `name(arg)`.
func callArg(s string) (string, bool) {
	i := strings.IndexByte(s, '(')
	if i < 0 || !strings.HasSuffix(s, ")") || i+1 >= len(s)-1 {
		return "", false
	}
	return s[i+1 : len(s)-1], true
}

// dataFetches are the fetch names (and prefixes) that read client data rather than the
// connection: content rules using them need the data plane to wait for data.
var dataFetches = []string{"req.", "req_", "payload", "rdp_cookie", "ssl_hello", "hdr", "path", "url", "method", "cook", "base", "http"}

// readsData reports whether a content rule may read client data. acl does not tell
// which fetches a named ACL uses, so a rule naming one is assumed to (a rule with an
// anonymous ACL or none is checked by its words).
func readsData(l cfgfile.Line, ru rule) bool {
	if ru.cond != nil && ru.cond.NeedsHTTP() {
		return true
	}
	if ru.key != nil && (ru.key.NeedsHTTP() || isDataFetch(ru.key.Fetch().Name)) {
		return true
	}
	if ru.cond == nil {
		return false
	}
	words := l.Words
	for i, w := range words {
		if w == "if" || w == "unless" {
			words = words[i+1:]
			break
		}
	}
	inside, fetch := false, false
	for _, w := range words {
		switch {
		case w == "{" || w == "!{":
			inside, fetch = true, true
			continue
		case w == "}":
			inside = false
			continue
		case strings.HasPrefix(w, "{") || strings.HasPrefix(w, "!{"):
			inside, fetch = true, true
			w = w[strings.IndexByte(w, '{')+1:]
		}
		if inside {
			// The first word of an anonymous ACL is its fetch; the rest are flags
			// and patterns.
			if fetch && isDataFetch(w) {
				return true
			}
			fetch = false
			continue
		}
		w = strings.TrimPrefix(w, "!")
		switch w {
		case "", "||", "or", "TRUE", "FALSE", "LOCALHOST":
			continue
		}
		return true // a named ACL: cannot look inside
	}
	return false
}

func isDataFetch(w string) bool {
	for _, p := range dataFetches {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}
