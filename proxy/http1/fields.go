package http1

import "encoding/binary"

// MaxHeaders is the capacity of the fixed header array of a Request or
// Response; it matches HAProxy's default tune.http.maxhdr.
const MaxHeaders = 101

// DefaultBufSize is the default head size limit, HAProxy's tune.bufsize.
const DefaultBufSize = 16384

// Limits bounds what the parsers accept. The zero value means the defaults.
type Limits struct {
	// MaxHead is the largest head accepted, request/status line and final
	// CRLF included (tune.bufsize). 0 means DefaultBufSize.
	MaxHead int
	// MaxHeaders is the largest number of header fields accepted
	// (tune.http.maxhdr). 0 means MaxHeaders; larger values are capped.
	MaxHeaders int
}

func (l Limits) maxHead() int {
	if l.MaxHead <= 0 {
		return DefaultBufSize
	}
	return l.MaxHead
}

func (l Limits) maxHeaders() int {
	if l.MaxHeaders <= 0 || l.MaxHeaders > MaxHeaders {
		return MaxHeaders
	}
	return l.MaxHeaders
}

// Header is one field line. Name and Value refer to the parsed buffer or to
// the head's own arena (after a rewrite); Value has surrounding whitespace
// removed. Neither may be modified or kept beyond the head's lifetime.
type Header struct {
	Name, Value []byte
}

// Connection option flags gathered from Connection field tokens.
const (
	connClose = 1 << iota
	connKeepAlive
	connUpgrade
)

// Fields is the header section shared by Request and Response: a fixed array
// of field lines in wire order, plus what the parser learnt about framing
// and connection handling. Its methods are promoted to Request and Response.
type Fields struct {
	list  [MaxHeaders]Header
	n     int
	arena []byte // holds names and values added by rewrites; reused across messages

	contentLength  int64 // -1 when absent
	te             bool  // a Transfer-Encoding field was present
	chunked        bool  // ...and its final coding is chunked
	hosts          int
	conn           uint8
	expectContinue bool
}

func (f *Fields) reset() {
	f.n = 0
	f.arena = f.arena[:0]
	f.contentLength = -1
	f.te, f.chunked = false, false
	f.hosts = 0
	f.conn = 0
	f.expectContinue = false
}

// Len returns the number of field lines.
func (f *Fields) Len() int { return f.n }

// At returns the i-th field line, 0 <= i < Len().
func (f *Fields) At(i int) Header { return f.list[i] }

// Header returns the value of the first field named name (any case).
func (f *Fields) Header(name string) ([]byte, bool) {
	for i := 0; i < f.n; i++ {
		if equalFoldAny(f.list[i].Name, name) {
			return f.list[i].Value, true
		}
	}
	return nil, false
}

// HeaderCount returns how many fields are named name (any case).
func (f *Fields) HeaderCount(name string) int {
	c := 0
	for i := 0; i < f.n; i++ {
		if equalFoldAny(f.list[i].Name, name) {
			c++
		}
	}
	return c
}

// Cookie returns the value of the first cookie called name (case-sensitive,
// as cookie names are) in the Cookie fields, as HAProxy's req.cook does.
func (f *Fields) Cookie(name string) ([]byte, bool) {
	for i := 0; i < f.n; i++ {
		if !equalFold(f.list[i].Name, "cookie") {
			continue
		}
		v := f.list[i].Value
		for len(v) > 0 {
			var pair []byte
			pair, v = nextCookiePair(v)
			eq := -1
			for j, c := range pair {
				if c == '=' {
					eq = j
					break
				}
			}
			if eq < 0 {
				continue
			}
			if string(trimOWS(pair[:eq])) == name {
				return trimOWS(pair[eq+1:]), true
			}
		}
	}
	return nil, false
}

func nextCookiePair(b []byte) (pair, rest []byte) {
	for i, c := range b {
		if c == ';' {
			return trimOWS(b[:i]), b[i+1:]
		}
	}
	return trimOWS(b), nil
}

// arenaCopy copies s into the head's arena and returns the copy. The arena
// never moves bytes already handed out: when full, a new, larger block
// replaces it and the old one lives on as long as slices refer to it. In the
// steady state (same rewrites for every message) this allocates nothing.
func arenaCopy[T string | []byte](f *Fields, s T) []byte {
	f.reserve(len(s))
	start := len(f.arena)
	f.arena = append(f.arena, s...)
	return f.arena[start:len(f.arena):len(f.arena)]
}

// reserve makes room for n more arena bytes without moving those in use.
func (f *Fields) reserve(n int) {
	if len(f.arena)+n <= cap(f.arena) {
		return
	}
	c := 2 * cap(f.arena)
	if c < 1024 {
		c = 1024
	}
	if c < n {
		c = n
	}
	f.arena = make([]byte, 0, c)
}

// validField reports whether name is a token and value holds only field
// characters, so a rewrite cannot inject a line break or a second field.
func validField[T string | []byte](name, value T) bool {
	if len(name) == 0 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !tokenChar[name[i]] {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		if !valueChar[value[i]] {
			return false
		}
	}
	return true
}

// Add appends a field line. It returns false, changing nothing, when the
// array is full or name/value are not a valid field (a name that is not a
// token, a value with CR, LF, NUL or another control character).
func (f *Fields) Add(name, value string) bool {
	if f.n == MaxHeaders || !validField(name, value) {
		return false
	}
	f.list[f.n] = Header{Name: arenaCopy(f, name), Value: arenaCopy(f, value)}
	f.n++
	return true
}

// AddBytes is Add for byte slices; name and value are copied.
func (f *Fields) AddBytes(name, value []byte) bool {
	if f.n == MaxHeaders || !validField(name, value) {
		return false
	}
	f.list[f.n] = Header{Name: arenaCopy(f, name), Value: arenaCopy(f, value)}
	f.n++
	return true
}

// Set replaces the value of the first field named name and deletes the
// others, or appends the field when there is none (http-request set-header).
// It returns false, changing nothing, for an invalid field (see Add).
func (f *Fields) Set(name, value string) bool {
	if !validField(name, value) {
		return false
	}
	for i := 0; i < f.n; i++ {
		if equalFoldAny(f.list[i].Name, name) {
			f.list[i].Value = arenaCopy(f, value)
			f.delFrom(name, i+1)
			return true
		}
	}
	return f.Add(name, value)
}

// SetBytes is Set for byte slices; name and value are copied.
func (f *Fields) SetBytes(name, value []byte) bool {
	if !validField(name, value) {
		return false
	}
	for i := 0; i < f.n; i++ {
		if equalFoldAny(f.list[i].Name, string(name)) {
			f.list[i].Value = arenaCopy(f, value)
			f.delFrom(string(name), i+1)
			return true
		}
	}
	return f.AddBytes(name, value)
}

// Del deletes every field named name and returns how many it deleted.
func (f *Fields) Del(name string) int { return f.delFrom(name, 0) }

func (f *Fields) delFrom(name string, from int) int {
	j := from
	for i := from; i < f.n; i++ {
		if equalFoldAny(f.list[i].Name, name) {
			continue
		}
		f.list[j] = f.list[i]
		j++
	}
	d := f.n - j
	for i := j; i < f.n; i++ {
		f.list[i] = Header{}
	}
	f.n = j
	return d
}

// DelAt deletes the i-th field line, keeping the order of the others.
func (f *Fields) DelAt(i int) {
	copy(f.list[i:f.n], f.list[i+1:f.n])
	f.n--
	f.list[f.n] = Header{}
}

// SetValueAt replaces the value of the i-th field line (value is copied);
// http-request replace-header/replace-value iterate with Len/At and call it.
// It returns false, changing nothing, for a value with control characters.
func (f *Fields) SetValueAt(i int, value []byte) bool {
	if !validField(f.list[i].Name, value) {
		return false
	}
	f.list[i].Value = arenaCopy(f, value)
	return true
}

// appendFields appends the field lines and the final empty line.
func (f *Fields) appendFields(dst []byte) []byte {
	for i := 0; i < f.n; i++ {
		h := &f.list[i]
		dst = append(dst, h.Name...)
		dst = append(dst, ':', ' ')
		dst = append(dst, h.Value...)
		dst = append(dst, '\r', '\n')
	}
	return append(dst, '\r', '\n')
}

// ExpectContinue reports whether the message carried Expect: 100-continue.
func (f *Fields) ExpectContinue() bool { return f.expectContinue }

// ContentLength returns the Content-Length as received, or -1.
func (f *Fields) ContentLength() int64 { return f.contentLength }

// Chunked reports whether the message was received with chunked framing.
func (f *Fields) Chunked() bool { return f.chunked }

// HasConnectionToken reports whether the Connection fields list token
// (close, keep-alive, upgrade or any other), ignoring case.
func (f *Fields) HasConnectionToken(token string) bool {
	for i := 0; i < f.n; i++ {
		if !equalFold(f.list[i].Name, "connection") {
			continue
		}
		for v := f.list[i].Value; len(v) > 0; {
			var e []byte
			e, v = nextListElem(v)
			if equalFoldAny(e, token) {
				return true
			}
		}
	}
	return false
}

// parseFields parses field lines from buf[pos:] up to and including the empty
// line that ends the head and returns the offset just past it. buf has
// already been cut at the head size limit by the caller.
func (f *Fields) parseFields(buf []byte, pos, maxHeaders int, isRequest bool) (int, error) {
	for {
		if pos >= len(buf) {
			return 0, ErrNeedMore
		}
		switch buf[pos] {
		case '\r':
			if pos+1 >= len(buf) {
				return 0, ErrNeedMore
			}
			if buf[pos+1] != '\n' {
				return 0, ErrBareCR
			}
			return pos + 2, nil
		case '\n':
			return 0, ErrBareLF
		}
		name, value, next, err := parseFieldLine(buf, pos)
		if err != nil {
			return 0, err
		}
		pos = next
		if f.n >= maxHeaders {
			return 0, ErrTooManyHeaders
		}
		f.list[f.n] = Header{Name: name, Value: value}
		f.n++
	}
}

// parseFieldLine parses one field line starting at buf[pos], which is not
// CR or LF. It returns the name, the trimmed value and the offset after CRLF.
func parseFieldLine(buf []byte, pos int) (name, value []byte, next int, err error) {
	c := buf[pos]
	if c == ' ' || c == '\t' {
		return nil, nil, 0, ErrObsFold
	}
	i := pos
	for i < len(buf) && tokenChar[buf[i]] {
		i++
	}
	if i == len(buf) {
		return nil, nil, 0, ErrNeedMore
	}
	switch buf[i] {
	case ':':
	case ' ', '\t':
		return nil, nil, 0, ErrSpaceBeforeColon
	default:
		return nil, nil, 0, ErrBadHeaderName
	}
	if i == pos {
		return nil, nil, 0, ErrBadHeaderName
	}
	name = buf[pos:i:i]
	i++
	for i < len(buf) && (buf[i] == ' ' || buf[i] == '\t') {
		i++
	}
	vs := i
	i = scanValue(buf, i)
	if i == len(buf) {
		return nil, nil, 0, ErrNeedMore
	}
	switch buf[i] {
	case '\r':
		if i+1 >= len(buf) {
			return nil, nil, 0, ErrNeedMore
		}
		if buf[i+1] != '\n' {
			return nil, nil, 0, ErrBadHeaderValue
		}
	case '\n':
		return nil, nil, 0, ErrBareLF
	default:
		return nil, nil, 0, ErrBadHeaderValue
	}
	ve := i
	for ve > vs && (buf[ve-1] == ' ' || buf[ve-1] == '\t') {
		ve--
	}
	next = i + 2
	// A continuation line (obs-fold) is refused when its first byte is seen.
	return name, buf[vs:ve:ve], next, nil
}

// inspectAll runs inspect over the field lines once the whole section has
// parsed, so that syntax errors (obs-fold, bare LF) win over meaning, and
// drops the fields inspect does not keep.
func (f *Fields) inspectAll(isRequest bool) error {
	j := 0
	for i := 0; i < f.n; i++ {
		keep, err := f.inspect(&f.list[i], isRequest)
		if err != nil {
			return err
		}
		if keep {
			f.list[j] = f.list[i]
			j++
		}
	}
	for i := j; i < f.n; i++ {
		f.list[i] = Header{}
	}
	f.n = j
	return nil
}

// inspect records what a field means for framing and connection handling and
// refuses the smuggling shapes that can be decided field by field. keep is
// false for a Content-Length identical to an earlier one: it is dropped, so
// only one is forwarded.
func (f *Fields) inspect(h *Header, isRequest bool) (keep bool, err error) {
	name, value := h.Name, h.Value
	switch len(name) {
	case 4:
		if isRequest && equalFold(name, "host") {
			f.hosts++
			if f.hosts > 1 {
				return false, ErrDupHost
			}
			for _, c := range value {
				if !hostChar[c] {
					return false, ErrBadHost
				}
			}
		}
	case 6:
		if equalFold(name, "expect") && equalFold(value, "100-continue") {
			f.expectContinue = true
		}
	case 10:
		if equalFold(name, "connection") {
			for v := value; len(v) > 0; {
				var e []byte
				e, v = nextListElem(v)
				switch {
				case equalFold(e, "close"):
					f.conn |= connClose
				case equalFold(e, "keep-alive"):
					f.conn |= connKeepAlive
				case equalFold(e, "upgrade"):
					f.conn |= connUpgrade
				}
			}
		}
	case 14:
		if equalFold(name, "content-length") {
			return f.inspectContentLength(h)
		}
	case 17:
		if equalFold(name, "transfer-encoding") {
			return true, f.inspectTransferEncoding(value, isRequest)
		}
	}
	return true, nil
}

func (f *Fields) inspectContentLength(h *Header) (bool, error) {
	// RFC 9110 8.6 lets a recipient accept a list of identical values
	// ("5, 5") as one; differing values are refused. The list is
	// normalised to its first element.
	var n int64 = -1
	first := true
	for v := h.Value; ; {
		var e []byte
		e, v = nextListElem(v)
		x, ok := parseDecimal(e)
		if !ok {
			return false, ErrBadContentLength
		}
		if n >= 0 && x != n {
			return false, ErrDupContentLength
		}
		n = x
		if first {
			h.Value = e
			first = false
		}
		if v == nil {
			break
		}
	}
	if f.contentLength >= 0 {
		if f.contentLength != n {
			return false, ErrDupContentLength
		}
		return false, nil
	}
	f.contentLength = n
	return true, nil
}

func (f *Fields) inspectTransferEncoding(value []byte, isRequest bool) error {
	f.te = true
	any := false
	for v := value; len(v) > 0; {
		var e []byte
		e, v = nextListElem(v)
		if len(e) == 0 {
			continue
		}
		any = true
		for _, c := range e {
			if !tokenChar[c] {
				return ErrBadTransferEncoding // parameters, quotes, spaces
			}
		}
		if f.chunked {
			// Nothing may follow chunked, not even a second chunked.
			return ErrBadTransferEncoding
		}
		if equalFold(e, "chunked") {
			f.chunked = true
		} else if isRequest {
			// No client compresses request framing; anything but
			// plain chunked in a request is a smuggling attempt.
			return ErrBadTransferEncoding
		}
	}
	if !any {
		return ErrBadTransferEncoding
	}
	return nil
}

// finish applies the rules that need the whole field section.
func (f *Fields) finish(isRequest bool, v Version) error {
	if err := f.inspectAll(isRequest); err != nil {
		return err
	}
	if f.te {
		if f.contentLength >= 0 {
			return ErrCLAndTE
		}
		if !f.chunked {
			return ErrBadTransferEncoding
		}
		if v == HTTP10 {
			return ErrTEInHTTP10
		}
	}
	if isRequest && v == HTTP11 && f.hosts == 0 {
		return ErrMissingHost
	}
	if isRequest && f.te {
		f.normaliseRequestTE()
	}
	if v == HTTP10 {
		f.expectContinue = false // RFC 9110 10.1.1: ignored in HTTP/1.0
	}
	return nil
}

var chunkedValue = []byte("chunked")

// normaliseRequestTE leaves one "Transfer-Encoding: chunked" field, the only
// request coding accepted, so that no backend sees "Chunked", ", chunked"
// or a split field and frames the body differently.
func (f *Fields) normaliseRequestTE() {
	first := -1
	for i := 0; i < f.n; i++ {
		if equalFold(f.list[i].Name, "transfer-encoding") {
			first = i
			break
		}
	}
	f.list[first].Value = chunkedValue[:len(chunkedValue):len(chunkedValue)]
	f.delFrom("transfer-encoding", first+1)
}

// scanValue returns the offset of the first byte at or after i that may not
// appear in a field value. Values are most of a head's bytes, so it checks
// eight at a time for a control byte (below 0x20, which includes CR, LF, NUL
// and HTAB) or DEL, and finishes byte by byte from the first suspect word.
func scanValue(buf []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i+8 <= len(buf) {
		x := binary.LittleEndian.Uint64(buf[i:])
		ctl := (x - 0x20*ones) & ^x & highs
		t := x ^ 0x7f*ones
		del := (t - ones) & ^t & highs
		if ctl|del != 0 {
			break
		}
		i += 8
	}
	for i < len(buf) && valueChar[buf[i]] {
		i++
	}
	return i
}
