package httpmode

import (
	"unsafe"

	"appl/proxy/http1"
)

// reqView is the request as ACL fetches see it (acl.HTTPView). Its strings alias the
// head's bytes without copying: they are valid while the head is, which the session
// guarantees for the duration of one request (a head whose body streams is first copied
// to a stable buffer). Whatever outlives the request (set-var) is cloned.
type reqView struct {
	req  *http1.Request
	vals []string
}

func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (v *reqView) Method() string { return bstr(v.req.Method()) }
func (v *reqView) Path() string   { return bstr(v.req.Path()) }
func (v *reqView) URI() string    { return bstr(v.req.Target()) }

func (v *reqView) Query() string {
	q, _ := v.req.Query()
	return bstr(q)
}

func (v *reqView) Header(name string) (string, bool) {
	b, ok := v.req.Header(name)
	return bstr(b), ok
}

func (v *reqView) HeaderValues(name string) []string {
	v.vals = v.vals[:0]
	for i := 0; i < v.req.Len(); i++ {
		h := v.req.At(i)
		if equalFold(h.Name, name) {
			v.vals = append(v.vals, bstr(h.Value))
		}
	}
	return v.vals
}

// equalFold compares an ASCII header name with a lower- or mixed-case string.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
