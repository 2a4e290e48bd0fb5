package check

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"appl/proxy/http1"
)

// ResponseLimit bounds what an HTTP check reads (HAProxy's check buffer, tune.bufsize):
// a head that does not fit is an invalid response; body expectations see at most what
// fits after the head.
const ResponseLimit = 16384

// HTTPCheck is an HTTP health check: the request of `option httpchk` / `http-check send`
// and the `http-check expect` rules, all of which must pass, in order. Build it with
// CompileHTTP.
type HTTPCheck struct {
	Method, URI, Version string      // defaults OPTIONS, /, HTTP/1.0
	Headers              [][2]string // sent in this order, names lower-cased as HAProxy does
	Body                 string
	SendState            bool // add X-Haproxy-Server-State (http-check send-state)
	DisableOn404         bool // a 404 is L7OKC: the server stays up but takes no new traffic
	Port                 int  // http-check connect port; 0 keeps the check port
	SendProxy            bool // http-check connect send-proxy
	Expect               []Expect
}

// Expect is one `http-check expect` rule.
type Expect struct {
	Negate  bool
	Match   string // status, rstatus, string, rstring
	Pattern string

	ranges [][2]int
	re     *regexp.Regexp
}

// CompileHTTP validates h (status lists, regular expressions) and fills its defaults.
func CompileHTTP(h HTTPCheck) (*HTTPCheck, error) {
	if h.Method == "" {
		h.Method = "OPTIONS"
	}
	if h.URI == "" {
		h.URI = "/"
	}
	if h.Version == "" {
		h.Version = "HTTP/1.0"
	}
	for _, s := range []string{h.Method, h.URI, h.Version} {
		if strings.ContainsAny(s, " \r\n\x00") {
			return nil, fmt.Errorf("http check request line part %q holds a space or a line break", s)
		}
	}
	for _, kv := range h.Headers {
		if kv[0] == "" || strings.ContainsAny(kv[0], " :\r\n\x00") || strings.ContainsAny(kv[1], "\r\n\x00") {
			return nil, fmt.Errorf("http check header %q: invalid name or value", kv[0]+": "+kv[1])
		}
	}
	ex := make([]Expect, len(h.Expect))
	for i, e := range h.Expect {
		switch e.Match {
		case "status":
			r, err := parseStatusList(e.Pattern)
			if err != nil {
				return nil, err
			}
			e.ranges = r
		case "rstatus", "rstring":
			re, err := regexp.Compile(e.Pattern)
			if err != nil {
				return nil, fmt.Errorf("http-check expect %s %q: %v", e.Match, e.Pattern, err)
			}
			e.re = re
		case "string":
		default:
			return nil, fmt.Errorf("http-check expect %s is not supported (expected status, rstatus, string or rstring)", e.Match)
		}
		ex[i] = e
	}
	h.Expect = ex
	return &h, nil
}

// parseStatusList reads HAProxy's status list: codes and ranges separated by commas,
// "200", "200-399", "200,301-302".
func parseStatusList(s string) ([][2]int, error) {
	var out [][2]int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return nil, fmt.Errorf("http-check expect status %q: expected codes or ranges of 100..599 separated by commas, such as 200-399", s)
		}
		out = append(out, [2]int{a, b})
	}
	return out, nil
}

// Request returns the bytes of the check request as HAProxy 2.x sends them: header
// names lower-cased, X-Haproxy-Server-State (state, when SendState), content-length
// when there is a body, and "connection: close" on HTTP/1.1 unless a Connection header
// was given.
func (h *HTTPCheck) Request(state string) []byte {
	b := make([]byte, 0, 128+len(h.Body))
	b = append(b, h.Method...)
	b = append(b, ' ')
	b = append(b, h.URI...)
	b = append(b, ' ')
	b = append(b, h.Version...)
	b = append(b, "\r\n"...)
	conn := false
	for _, kv := range h.Headers {
		name := strings.ToLower(kv[0])
		conn = conn || name == "connection"
		b = append(b, name...)
		b = append(b, ": "...)
		b = append(b, kv[1]...)
		b = append(b, "\r\n"...)
	}
	if h.SendState && state != "" {
		b = append(b, "x-haproxy-server-state: "...)
		b = append(b, state...)
		b = append(b, "\r\n"...)
	}
	if h.Body != "" {
		b = append(b, "content-length: "...)
		b = strconv.AppendInt(b, int64(len(h.Body)), 10)
		b = append(b, "\r\n"...)
	}
	if !conn && h.Version != "HTTP/1.0" {
		b = append(b, "connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, h.Body...)
}

// needsBody reports whether a rule looks at the body.
func (h *HTTPCheck) needsBody() bool {
	for _, e := range h.Expect {
		if e.Match == "string" || e.Match == "rstring" {
			return true
		}
	}
	return false
}

// Judge decides the check from the response bytes received so far. eof says no more
// will come (the server closed). done is false while more bytes could change the
// verdict; the caller reads on (up to ResponseLimit bytes) and calls again. Judge is
// pure: it never reads beyond buf and never panics on any input.
func (h *HTTPCheck) Judge(buf []byte, eof bool) (o Outcome, done bool) {
	return h.judge(buf, eof, nil)
}

// judge is Judge with a caller-owned scratch buffer for a decoded chunked body, so that
// a response arriving in many small reads is not decoded into a new buffer each time.
func (h *HTTPCheck) judge(buf []byte, eof bool, scratch *[]byte) (o Outcome, done bool) {
	if len(buf) > ResponseLimit {
		buf = buf[:ResponseLimit]
	}
	full := len(buf) >= ResponseLimit
	var resp http1.Response
	var n int
	for {
		var err error
		n, err = resp.Parse(buf, http1.Limits{MaxHead: ResponseLimit})
		if err == http1.ErrNeedMore && !eof && !full {
			return Outcome{}, false
		}
		if err != nil {
			return outcome(StatusL7RSP, 0, ""), true
		}
		if !resp.IsInterim() {
			break
		}
		// 1xx before the final response: skip it.
		buf = buf[n:]
	}
	code := resp.Status()
	if h.DisableOn404 && code == 404 {
		return outcome(StatusL7OKC, code, ""), true
	}
	var body []byte
	if h.needsBody() {
		var complete bool
		body, complete = h.body(&resp, buf[n:], eof, scratch)
		if !complete && !eof && !full {
			return Outcome{}, false
		}
	}
	if len(h.Expect) == 0 {
		if code >= 200 && code < 400 {
			return outcome(StatusL7OK, code, ""), true
		}
		return outcome(StatusL7STS, code, string(resp.Reason())), true
	}
	for i := range h.Expect {
		e := &h.Expect[i]
		switch e.Match {
		case "status", "rstatus":
			var m bool
			if e.re != nil {
				m = e.re.MatchString(strconv.Itoa(code))
			} else {
				for _, r := range e.ranges {
					m = m || code >= r[0] && code <= r[1]
				}
			}
			if m == e.Negate {
				return outcome(StatusL7STS, code, string(resp.Reason())), true
			}
		case "string", "rstring":
			if len(body) == 0 {
				return outcome(StatusL7RSP, code, "HTTP content check could not find a response body"), true
			}
			var m bool
			if e.re != nil {
				m = e.re.Match(body)
			} else {
				m = bytes.Contains(body, []byte(e.Pattern))
			}
			if m && e.Negate {
				return outcome(StatusL7RSP, code, "HTTP check matched unwanted content"), true
			}
			if !m && !e.Negate {
				return outcome(StatusL7RSP, code, "HTTP content check did not match"), true
			}
		}
	}
	return outcome(StatusL7OK, code, ""), true
}

// body returns the payload that follows the head in rest, and whether it is complete.
// A chunked body is decoded; a malformed one ends at the last good byte.
func (h *HTTPCheck) body(resp *http1.Response, rest []byte, eof bool, scratch *[]byte) ([]byte, bool) {
	var req *http1.Request
	if h.Method == "HEAD" {
		var r http1.Request
		r.Parse([]byte("HEAD / HTTP/1.0\r\n\r\n"), http1.Limits{})
		req = &r
	}
	f := resp.Framing(req)
	switch f.Kind {
	case http1.BodyLength:
		if int64(len(rest)) >= f.Length {
			return rest[:f.Length], true
		}
		return rest, false
	case http1.BodyChunked:
		var d http1.ChunkedDecoder
		var dst []byte
		if scratch != nil && cap(*scratch) >= len(rest) {
			dst = (*scratch)[:0]
		} else {
			dst = make([]byte, 0, len(rest))
		}
		out, _, err := d.DecodePayload(dst, rest)
		return out, err != nil // io.EOF: complete; a parse error: nothing more will help
	case http1.BodyUntilClose:
		return rest, eof
	}
	return nil, true
}
