package http1

// Version is the protocol version of a message: HTTP10 or HTTP11. Any other
// version is refused by the parsers with ErrBadVersion.
type Version uint8

const (
	HTTP10 Version = 10
	HTTP11 Version = 11
)

func (v Version) String() string {
	if v == HTTP10 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// parseVersion accepts exactly "HTTP/1.0" and "HTTP/1.1".
func parseVersion(b []byte) (Version, bool) {
	if len(b) != 8 || string(b[:7]) != "HTTP/1." {
		return 0, false
	}
	switch b[7] {
	case '0':
		return HTTP10, true
	case '1':
		return HTTP11, true
	}
	return 0, false
}

// Target forms (RFC 9112 3.2).
const (
	formOrigin    = iota // /path?query
	formAbsolute         // http://host/path?query
	formAuthority        // host:port (CONNECT)
	formAsterisk         // * (OPTIONS)
)

// Request is a parsed request head. Its slices refer to the buffer given to
// Parse (or the head's arena after a rewrite): they stay valid until that
// buffer is overwritten or the Request is parsed into again. A Request is
// large (the fixed header array); pool it with the connection.
type Request struct {
	Fields
	method   []byte
	target   []byte
	prefix   []byte // scheme://authority of an absolute-form target
	path     []byte
	query    []byte
	hasQuery bool
	form     uint8
	version  Version
}

// Parse parses a request head at the start of buf. It returns the number of
// bytes the head occupies (empty lines before the request line included);
// the body, or the next pipelined request, starts there. It returns
// ErrNeedMore when buf holds no complete head yet (read more and call again
// with the longer buffer), or a *ParseError. On the common path it does not
// allocate.
func (r *Request) Parse(buf []byte, lim Limits) (int, error) {
	r.reset()
	max := lim.maxHead()
	full := len(buf) >= max
	if full {
		buf = buf[:max]
	}
	n, err := r.parse(buf, lim.maxHeaders())
	if err == ErrNeedMore && full {
		err = ErrHeadTooLarge
	}
	return n, err
}

func (r *Request) reset() {
	r.Fields.reset()
	r.method, r.target, r.prefix, r.path, r.query = nil, nil, nil, nil, nil
	r.hasQuery = false
	r.form = formOrigin
	r.version = 0
}

func (r *Request) parse(buf []byte, maxHeaders int) (int, error) {
	pos := 0
	// RFC 9112 2.2: a server SHOULD ignore empty lines before the request line.
	for {
		if pos >= len(buf) {
			return 0, ErrNeedMore
		}
		if buf[pos] == '\n' {
			return 0, ErrBareLF
		}
		if buf[pos] != '\r' {
			break
		}
		if pos+1 >= len(buf) {
			return 0, ErrNeedMore
		}
		if buf[pos+1] != '\n' {
			return 0, ErrBareCR
		}
		pos += 2
	}

	// method SP
	i := pos
	for i < len(buf) && tokenChar[buf[i]] {
		i++
	}
	if i == len(buf) {
		return 0, ErrNeedMore
	}
	if buf[i] != ' ' {
		if i == pos || buf[i] == '\r' || buf[i] == '\n' {
			return 0, ErrBadRequestLine
		}
		return 0, ErrBadMethod
	}
	if i == pos {
		return 0, ErrBadRequestLine
	}
	r.method = buf[pos:i:i]
	i++

	// request-target SP
	ts := i
	for i < len(buf) && targetChar[buf[i]] {
		i++
	}
	if i == len(buf) {
		return 0, ErrNeedMore
	}
	switch buf[i] {
	case ' ':
	case '\r', '\n':
		return 0, ErrBadRequestLine // HTTP/0.9 or no version
	default:
		return 0, ErrBadTarget
	}
	if i == ts {
		return 0, ErrBadRequestLine
	}
	r.target = buf[ts:i:i]
	i++

	// HTTP-version CRLF
	vs := i
	for i < len(buf) && buf[i] != '\r' && buf[i] != '\n' {
		i++
	}
	if i == len(buf) {
		return 0, ErrNeedMore
	}
	if buf[i] == '\n' {
		return 0, ErrBareLF
	}
	if i+1 >= len(buf) {
		return 0, ErrNeedMore
	}
	if buf[i+1] != '\n' {
		return 0, ErrBareCR
	}
	v, ok := parseVersion(buf[vs:i])
	if !ok {
		return 0, versionLineError(buf[vs:i])
	}
	r.version = v
	if err := r.splitTarget(); err != nil {
		return 0, err
	}
	end, err := r.parseFields(buf, i+2, maxHeaders, true)
	if err != nil {
		return 0, err
	}
	if err := r.finish(true, r.version); err != nil {
		return 0, err
	}
	// An absolute-form or CONNECT target names the host too: two names a
	// backend and a rule could read differently are refused (as HAProxy 2.x).
	if a := r.Authority(); a != nil && r.hosts == 1 {
		if h, _ := r.Header("host"); !equalFoldAny(h, string(a)) {
			return 0, ErrHostMismatch
		}
	}
	return end, nil
}

// versionLineError tells a space inside the target ("GET /a b HTTP/1.1")
// from a bad version.
func versionLineError(b []byte) error {
	for j, c := range b {
		if c == ' ' {
			if _, ok := parseVersion(b[len(b)-min(len(b), 8):]); ok && j < len(b)-8 {
				return ErrBadTarget
			}
			return ErrBadRequestLine
		}
	}
	return ErrBadVersion
}

// splitTarget classifies the request-target and splits path and query.
func (r *Request) splitTarget() error {
	t := r.target
	isConnect := string(r.method) == "CONNECT"
	switch {
	case isConnect:
		// authority-form: host:port, nothing else.
		for _, c := range t {
			if !hostChar[c] {
				return ErrBadTarget
			}
		}
		r.form = formAuthority
		return nil
	case len(t) == 1 && t[0] == '*':
		if string(r.method) != "OPTIONS" {
			return ErrBadTarget
		}
		r.form = formAsterisk
		return nil
	case t[0] == '/':
		r.form = formOrigin
		r.setPathQuery(t)
		return nil
	}
	// absolute-form: scheme "://" authority [path-abempty] [ "?" query ]
	k := 0
	for k < len(t) && (tokenChar[t[k]] && t[k] != ':') {
		k++
	}
	if k == 0 || k+3 > len(t) || string(t[k:k+3]) != "://" {
		return ErrBadTarget
	}
	a := k + 3
	e := a
	for e < len(t) && t[e] != '/' && t[e] != '?' {
		if !hostChar[t[e]] { // no userinfo: '@' is refused
			return ErrBadTarget
		}
		e++
	}
	if e == a {
		return ErrBadTarget
	}
	r.form = formAbsolute
	r.prefix = t[:e:e]
	r.setPathQuery(t[e:])
	return nil
}

func (r *Request) setPathQuery(pq []byte) {
	for j, c := range pq {
		if c == '?' {
			r.path = pq[:j:j]
			r.query = pq[j+1:]
			r.hasQuery = true
			return
		}
	}
	r.path = pq
	r.query = nil
	r.hasQuery = false
}

// Method returns the request method (case-sensitive, as received).
func (r *Request) Method() []byte { return r.method }

// Target returns the request-target as it will be serialized.
func (r *Request) Target() []byte { return r.target }

// Path returns the path of an origin-form or absolute-form target (empty for
// an absolute-form target without path, CONNECT and "*").
func (r *Request) Path() []byte { return r.path }

// Query returns the query (without '?') and whether the target had a '?'.
func (r *Request) Query() ([]byte, bool) { return r.query, r.hasQuery }

// Authority returns the authority of an absolute-form target
// ("http://a.example/x" -> "a.example") or the whole target of a CONNECT
// request; otherwise nil. The proxy uses it in place of Host when present.
func (r *Request) Authority() []byte {
	switch r.form {
	case formAuthority:
		return r.target
	case formAbsolute:
		for i := 0; i+2 < len(r.prefix); i++ {
			if r.prefix[i] == ':' && r.prefix[i+1] == '/' && r.prefix[i+2] == '/' {
				return r.prefix[i+3:]
			}
		}
	}
	return nil
}

// Version returns the request's protocol version.
func (r *Request) Version() Version { return r.version }

// SetVersion changes the version written by AppendTo.
func (r *Request) SetVersion(v Version) { r.version = v }

// IsMethod reports whether the method is exactly m (methods are case-sensitive).
func (r *Request) IsMethod(m string) bool { return string(r.method) == m }

// SetMethod replaces the method; it must be a token.
func (r *Request) SetMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !tokenChar[m[i]] {
			return false
		}
	}
	r.method = arenaCopy(&r.Fields, m)
	return true
}

// SetPath replaces the path, keeping the query (http-request set-path). The
// path must be non-empty, start with '/' and hold only target characters;
// otherwise SetPath refuses it and returns false, so a rule cannot inject a
// space or CRLF into the request line.
func (r *Request) SetPath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' || !validTargetPart(p, false) || (r.form != formOrigin && r.form != formAbsolute) {
		return false
	}
	r.path = arenaCopy(&r.Fields, p)
	r.rebuildTarget()
	return true
}

// SetQuery replaces the query (without '?'); an empty q keeps a bare '?'
// unless remove is true, which drops the '?' too (http-request set-query).
func (r *Request) SetQuery(q []byte, remove bool) bool {
	if !validTargetPart(q, true) || (r.form != formOrigin && r.form != formAbsolute) {
		return false
	}
	if remove {
		r.query, r.hasQuery = nil, false
	} else {
		r.query, r.hasQuery = arenaCopy(&r.Fields, q), true
	}
	r.rebuildTarget()
	return true
}

func validTargetPart(b []byte, query bool) bool {
	for _, c := range b {
		if !targetChar[c] || (!query && c == '?') {
			return false
		}
	}
	return true
}

func (r *Request) rebuildTarget() {
	n := len(r.prefix) + len(r.path) + len(r.query) + 1
	r.reserve(n)
	start := len(r.arena)
	r.arena = append(r.arena, r.prefix...)
	r.arena = append(r.arena, r.path...)
	if r.hasQuery {
		r.arena = append(r.arena, '?')
		r.arena = append(r.arena, r.query...)
	}
	r.target = r.arena[start:len(r.arena):len(r.arena)]
}

// AppendTo appends the head in canonical form (single spaces, "Name: value",
// CRLF line ends) to dst and returns the extended slice.
func (r *Request) AppendTo(dst []byte) []byte {
	dst = append(dst, r.method...)
	dst = append(dst, ' ')
	dst = append(dst, r.target...)
	dst = append(dst, ' ')
	dst = append(dst, r.version.String()...)
	dst = append(dst, '\r', '\n')
	return r.appendFields(dst)
}
