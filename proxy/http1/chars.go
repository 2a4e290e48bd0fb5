package http1

// Character classes as 256-entry tables: one load per byte on the hot path.
var (
	tokenChar  [256]bool // RFC 9110 tchar: methods, field names, codings
	valueChar  [256]bool // field-content: HTAB, SP, VCHAR, obs-text
	targetChar [256]bool // request-target: VCHAR except '#'; no SP, CTL, DEL or non-ASCII
	hostChar   [256]bool // Host field: reg-name, IP-literal and port characters
)

func init() {
	for c := 'a'; c <= 'z'; c++ {
		tokenChar[c] = true
		tokenChar[c-'a'+'A'] = true
		hostChar[c] = true
		hostChar[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		tokenChar[c] = true
		hostChar[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tokenChar[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=:[]%" {
		hostChar[c] = true
	}
	valueChar['\t'] = true
	for c := 0x20; c < 0x7f; c++ {
		valueChar[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
		valueChar[c] = true
	}
	for c := 0x21; c < 0x7f; c++ {
		targetChar[c] = true
	}
	targetChar['#'] = false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals s ignoring ASCII case. s must be lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// equalFoldAny compares b with s ignoring ASCII case; s may be any case.
func equalFoldAny(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextListElem splits a comma-separated field value (RFC 9110 #rule): it returns
// the first element with OWS trimmed and the rest after the comma. Empty
// elements are returned as empty slices; callers skip them.
func nextListElem(b []byte) (elem, rest []byte) {
	for i := 0; i < len(b); i++ {
		if b[i] == ',' {
			return trimOWS(b[:i]), b[i+1:]
		}
	}
	return trimOWS(b), nil
}

// parseDecimal parses 1*DIGIT into a non-negative int64, refusing signs,
// spaces and overflow.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func appendHex(dst []byte, v int64) []byte {
	const digits = "0123456789abcdef"
	if v == 0 {
		return append(dst, '0')
	}
	var tmp [16]byte
	i := len(tmp)
	for v > 0 {
		i--
		tmp[i] = digits[v&15]
		v >>= 4
	}
	return append(dst, tmp[i:]...)
}

func appendInt(dst []byte, v int64) []byte {
	if v == 0 {
		return append(dst, '0')
	}
	var tmp [20]byte
	i := len(tmp)
	for v > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, tmp[i:]...)
}
