package h2front

import (
	"errors"
	"strconv"

	"golang.org/x/net/http2/hpack"

	"appl/proxy/http1"
)

// This file turns the decoded header list of an HTTP/2 request into the HTTP/1.1 head
// the engine reads, and an HTTP/1.1 response head into the HTTP/2 header list the
// client gets. Both are pure functions (no I/O), fuzzed by FuzzBuildRequest.

// ReqInfo is what the gateway must know about a converted request to feed its body.
type ReqInfo struct {
	Head    bool  // HEAD: the response has no body whatever its Content-Length says
	Chunked bool  // the body is re-framed as chunked (no content-length given)
	HasCL   bool  // content-length given: the DATA frames must add up to CL
	CL      int64 // its value
}

// Malformed-request reasons (RFC 9113 8.1.1: a stream error of type PROTOCOL_ERROR).
var (
	ErrPseudo        = errors.New("h2front: missing, duplicate, unknown or misplaced pseudo-header")
	ErrConnHeader    = errors.New("h2front: connection-specific header field")
	ErrFieldName     = errors.New("h2front: invalid header field name")
	ErrFieldValue    = errors.New("h2front: invalid header field value")
	ErrHostMismatch  = errors.New("h2front: host differs from :authority")
	ErrNoAuthority   = errors.New("h2front: no :authority and no host")
	ErrContentLength = errors.New("h2front: invalid content-length")
	ErrPath          = errors.New("h2front: invalid :path")
	// ErrConnect is a CONNECT request (tunnels are not served over HTTP/2): the gateway
	// answers 501 instead of resetting the stream.
	ErrConnect = errors.New("h2front: CONNECT is not served over HTTP/2")
)

var tokenChar, valueChar, pathChar, hostChar [256]bool

func init() {
	for c := 'a'; c <= 'z'; c++ {
		tokenChar[c] = true
		hostChar[c], hostChar[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		tokenChar[c], hostChar[c] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tokenChar[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=:[]%" {
		hostChar[c] = true
	}
	valueChar['\t'] = true
	for c := 0x20; c < 0x100; c++ {
		valueChar[c] = c != 0x7f
	}
	for c := 0x21; c < 0x7f; c++ {
		pathChar[c] = c != '#'
	}
}

// lower-case token: HTTP/2 field names must not contain upper case (RFC 9113 8.2).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChar[s[i]] {
			return false
		}
	}
	return true
}

func validMethod(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !tokenChar[c] && !(c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// validValue: no NUL, CR, LF or other controls but HTAB, and no leading or trailing
// whitespace (RFC 9113 8.2.1).
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if !valueChar[s[i]] {
			return false
		}
	}
	return len(s) == 0 || (s[0] != ' ' && s[0] != '\t' && s[len(s)-1] != ' ' && s[len(s)-1] != '\t')
}

func validIn(s string, table *[256]bool) bool {
	for i := 0; i < len(s); i++ {
		if !table[s[i]] {
			return false
		}
	}
	return true
}

// BuildRequest appends to dst the HTTP/1.1 head of the HTTP/2 request whose decoded
// header list is fields; endStream is set when the HEADERS frame ended the stream (no
// body). The result is "METHOD PATH HTTP/1.1", Host from :authority, the regular
// fields (cookie crumbs joined into one field, RFC 9113 8.2.3), and the body framing:
// content-length as given, else Transfer-Encoding: chunked when a body follows. A
// malformed request returns one of the Err* values and dst unchanged in length.
func BuildRequest(dst []byte, fields []hpack.HeaderField, endStream bool) ([]byte, ReqInfo, error) {
	var info ReqInfo
	var method, scheme, path, authority, host string
	var seen [4]bool
	cookies, nCookies := 0, 0
	regular := false
	clSeen := false
	for _, f := range fields {
		if len(f.Name) > 0 && f.Name[0] == ':' {
			if regular {
				return dst, info, ErrPseudo
			}
			var i int
			switch f.Name {
			case ":method":
				i, method = 0, f.Value
			case ":scheme":
				i, scheme = 1, f.Value
			case ":path":
				i, path = 2, f.Value
			case ":authority":
				i, authority = 3, f.Value
			default:
				return dst, info, ErrPseudo // :status, :protocol (extended CONNECT), unknown
			}
			if seen[i] {
				return dst, info, ErrPseudo
			}
			seen[i] = true
			continue
		}
		regular = true
		if !validName(f.Name) {
			return dst, info, ErrFieldName
		}
		if !validValue(f.Value) {
			return dst, info, ErrFieldValue
		}
		switch f.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			return dst, info, ErrConnHeader
		case "te":
			if f.Value != "trailers" {
				return dst, info, ErrConnHeader
			}
		case "host":
			if host != "" && host != f.Value {
				return dst, info, ErrHostMismatch
			}
			host = f.Value
		case "cookie":
			nCookies++
			cookies += len(f.Value) + 2
		case "content-length":
			n, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || n < 0 || f.Value[0] == '+' {
				return dst, info, ErrContentLength
			}
			if clSeen && n != info.CL {
				return dst, info, ErrContentLength
			}
			clSeen, info.CL = true, n
		}
	}
	if !seen[0] || !validMethod(method) {
		return dst, info, ErrPseudo
	}
	if method == "CONNECT" {
		return dst, info, ErrConnect
	}
	if !seen[1] || !seen[2] || scheme == "" {
		return dst, info, ErrPseudo
	}
	switch {
	case path == "":
		return dst, info, ErrPath
	case path == "*":
		if method != "OPTIONS" {
			return dst, info, ErrPath
		}
	case path[0] != '/' || !validIn(path, &pathChar):
		return dst, info, ErrPath
	}
	if !validIn(scheme, &tokenChar) {
		return dst, info, ErrPseudo
	}
	if seen[3] {
		if authority == "" || !validIn(authority, &hostChar) {
			return dst, info, ErrPseudo
		}
		if host != "" && host != authority {
			return dst, info, ErrHostMismatch
		}
		host = authority
	}
	if host == "" {
		return dst, info, ErrNoAuthority
	}
	if !validIn(host, &hostChar) {
		return dst, info, ErrFieldValue
	}
	info.Head = method == "HEAD"
	info.HasCL = clSeen
	if endStream && clSeen && info.CL != 0 {
		return dst, info, ErrContentLength
	}
	info.Chunked = !endStream && !clSeen

	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nhost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	cookieDone := false
	clDone := false
	for _, f := range fields {
		if f.Name[0] == ':' {
			continue
		}
		switch f.Name {
		case "host":
			continue
		case "content-length":
			if clDone {
				continue
			}
			clDone = true
		case "cookie":
			if cookieDone {
				continue
			}
			cookieDone = true
			if nCookies > 1 {
				dst = append(dst, "cookie: "...)
				k := 0
				for _, c := range fields {
					if c.Name == "cookie" {
						if k > 0 {
							dst = append(dst, "; "...)
						}
						dst = append(dst, c.Value...)
						k++
					}
				}
				dst = append(dst, "\r\n"...)
				continue
			}
		}
		dst = append(dst, f.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value...)
		dst = append(dst, "\r\n"...)
	}
	if info.Chunked {
		dst = append(dst, "transfer-encoding: chunked\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return dst, info, nil
}

// AppendTrailers appends the end of a chunked body carrying trailer fields (the
// HEADERS frame that ends a request stream after DATA). Trailers must not hold
// pseudo-headers or connection-specific fields; when the body is not chunked
// (content-length given) HTTP/1.1 cannot carry them and they are dropped.
func AppendTrailers(dst []byte, fields []hpack.HeaderField, chunked bool) ([]byte, error) {
	for _, f := range fields {
		if len(f.Name) > 0 && f.Name[0] == ':' {
			return dst, ErrPseudo
		}
		if !validName(f.Name) {
			return dst, ErrFieldName
		}
		if !validValue(f.Value) {
			return dst, ErrFieldValue
		}
		switch f.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade", "te",
			"content-length", "host":
			return dst, ErrConnHeader
		}
	}
	if !chunked {
		return dst, nil
	}
	dst = append(dst, "0\r\n"...)
	for _, f := range fields {
		dst = append(dst, f.Name...)
		dst = append(dst, ": "...)
		dst = append(dst, f.Value...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), nil
}

// encodeResponse hpack-encodes the head of resp for an HTTP/2 client: :status, then
// the fields with lower-case names, without the connection-specific ones (RFC 9113
// 8.2.2). Content-length is dropped when the body is re-framed (keepCL false).
func encodeResponse(enc *hpack.Encoder, resp *http1.Response, keepCL bool, scratch []byte) []byte {
	st := resp.Status()
	scratch = strconv.AppendInt(scratch[:0], int64(st), 10)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: string(scratch)})
	for i := 0; i < resp.Len(); i++ {
		h := resp.At(i)
		scratch = scratch[:0]
		for _, c := range h.Name {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			scratch = append(scratch, c)
		}
		name := string(scratch)
		switch name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			continue
		case "content-length":
			if !keepCL {
				continue
			}
		}
		f := hpack.HeaderField{Name: name, Value: string(h.Value)}
		if name == "set-cookie" || name == "authorization" {
			f.Sensitive = true
		}
		enc.WriteField(f)
	}
	return scratch
}
