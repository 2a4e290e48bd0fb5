package http1

// Response is a parsed response head; the same lifetime rules as Request apply.
type Response struct {
	Fields
	version Version
	status  int
	reason  []byte
}

// Parse parses a response head at the start of buf, like Request.Parse.
func (r *Response) Parse(buf []byte, lim Limits) (int, error) {
	r.Fields.reset()
	r.version, r.status, r.reason = 0, 0, nil
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

func (r *Response) parse(buf []byte, maxHeaders int) (int, error) {
	// HTTP-version SP 3DIGIT SP reason-phrase CRLF. The SP after the status
	// is tolerated when the reason is absent ("HTTP/1.1 200\r\n").
	if len(buf) < 13 {
		// Not enough for the shortest line: check what we have so far.
		if !prefixOK(buf, "HTTP/1.") {
			return 0, ErrBadVersion
		}
		return 0, ErrNeedMore
	}
	v, ok := parseVersion(buf[:8])
	if !ok {
		return 0, ErrBadVersion
	}
	r.version = v
	if buf[8] != ' ' {
		return 0, ErrBadStatusLine
	}
	st := 0
	for _, c := range buf[9:12] {
		if c < '0' || c > '9' {
			return 0, ErrBadStatusLine
		}
		st = st*10 + int(c-'0')
	}
	if st < 100 || st > 599 {
		return 0, ErrBadStatusLine
	}
	r.status = st
	i := 12
	switch buf[i] {
	case ' ':
		i++
	case '\r':
	case '\n':
		return 0, ErrBareLF
	default:
		return 0, ErrBadStatusLine
	}
	rs := i
	for i < len(buf) && valueChar[buf[i]] {
		i++
	}
	if i == len(buf) {
		return 0, ErrNeedMore
	}
	switch buf[i] {
	case '\r':
	case '\n':
		return 0, ErrBareLF
	default:
		return 0, ErrBadStatusLine
	}
	if i+1 >= len(buf) {
		return 0, ErrNeedMore
	}
	if buf[i+1] != '\n' {
		return 0, ErrBareCR
	}
	r.reason = buf[rs:i:i]
	end, err := r.parseFields(buf, i+2, maxHeaders, false)
	if err != nil {
		return 0, err
	}
	if err := r.finish(false, r.version); err != nil {
		return 0, err
	}
	return end, nil
}

// prefixOK reports whether b is a prefix of s or s a prefix of b.
func prefixOK(b []byte, s string) bool {
	n := min(len(b), len(s))
	return string(b[:n]) == s[:n]
}

// Version returns the response's protocol version.
func (r *Response) Version() Version { return r.version }

// SetVersion changes the version written by AppendTo.
func (r *Response) SetVersion(v Version) { r.version = v }

// Status returns the status code.
func (r *Response) Status() int { return r.status }

// Reason returns the reason phrase (possibly empty).
func (r *Response) Reason() []byte { return r.reason }

// SetStatus replaces the status code and reason phrase (http-response
// set-status). An empty reason is replaced by the standard one. It returns
// false for a code outside 100..599 or a reason with control characters.
func (r *Response) SetStatus(code int, reason string) bool {
	if code < 100 || code > 599 {
		return false
	}
	for i := 0; i < len(reason); i++ {
		if !valueChar[reason[i]] {
			return false
		}
	}
	if reason == "" {
		reason = StatusText(code)
	}
	r.status = code
	r.reason = arenaCopy(&r.Fields, reason)
	return true
}

// IsInterim reports a 1xx response other than 101: another response follows
// it for the same request.
func (r *Response) IsInterim() bool { return r.status >= 100 && r.status < 200 && r.status != 101 }

// AppendTo appends the head in canonical form to dst.
func (r *Response) AppendTo(dst []byte) []byte {
	dst = append(dst, r.version.String()...)
	dst = append(dst, ' ')
	dst = appendInt(dst, int64(r.status))
	dst = append(dst, ' ')
	dst = append(dst, r.reason...)
	dst = append(dst, '\r', '\n')
	return r.appendFields(dst)
}
