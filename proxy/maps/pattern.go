package maps

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// ParseIPPattern reads an address or a prefix: "10.0.0.1", "10.0.0.0/8",
// "10.0.0.0/255.0.0.0", "2001:db8::/32". IPv4-mapped IPv6 is stored as IPv4.
func ParseIPPattern(s string) (netip.Prefix, error) {
	addr, bits, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or prefix", s)
	}
	a = a.WithZone("")
	n := a.BitLen()
	if hasBits {
		if v, err := strconv.Atoi(bits); err == nil {
			n = v
		} else if m, err := netip.ParseAddr(bits); err == nil && m.Is4() && a.Is4() {
			n = maskLen(m.As4())
			if n < 0 {
				return netip.Prefix{}, fmt.Errorf("%q: mask %s is not contiguous", s, bits)
			}
		} else {
			return netip.Prefix{}, fmt.Errorf("%q: bad prefix length %q", s, bits)
		}
	}
	if a.Is4In6() && (n >= 96 || !hasBits) {
		a = a.Unmap()
		n -= 96
		if !hasBits {
			n = 32
		}
	}
	p, err := a.Prefix(n)
	if err != nil || n < 0 || n > a.BitLen() {
		return netip.Prefix{}, fmt.Errorf("%q: prefix length %d out of range (expected 0..%d)", s, n, a.BitLen())
	}
	return p, nil
}

func maskLen(m [4]byte) int {
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return n
}

// ParseIntRange reads "N", "LO:HI", "LO:" or ":HI" (HAProxy's integer patterns).
func ParseIntRange(s string) (lo, hi int64, err error) {
	a, b, isRange := strings.Cut(s, ":")
	if !isRange {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%q is not an integer or range (expected N or LO:HI)", s)
		}
		return v, v, nil
	}
	lo, hi = math.MinInt64, math.MaxInt64
	if a != "" {
		if lo, err = strconv.ParseInt(a, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%q: bad lower bound (expected N or LO:HI)", s)
		}
	}
	if b != "" {
		if hi, err = strconv.ParseInt(b, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%q: bad upper bound (expected N or LO:HI)", s)
		}
	}
	if a == "" && b == "" {
		return 0, 0, errors.New(`":" is not a range (expected N or LO:HI)`)
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("%q: empty range (lower bound above upper)", s)
	}
	return lo, hi, nil
}

// hasDelimited reports whether pat occurs in s as a run of whole segments, segments being
// separated by any byte of delims (HAProxy's dom and dir matches).
func hasDelimited(s, pat, delims string, icase bool) bool {
	pat = strings.Trim(pat, delims)
	if pat == "" {
		return false
	}
	for i := 0; i+len(pat) <= len(s); i++ {
		if i > 0 && strings.IndexByte(delims, s[i-1]) < 0 {
			continue
		}
		j := i + len(pat)
		if j < len(s) && strings.IndexByte(delims, s[j]) < 0 {
			continue
		}
		if eq(s[i:j], pat, icase) {
			return true
		}
	}
	return false
}

// eq compares, ignoring ASCII case under icase (HAProxy's -i is ASCII only).
func eq(a, b string, icase bool) bool {
	if !icase || len(a) != len(b) {
		return a == b
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func hasPrefix(s, p string, icase bool) bool {
	return len(s) >= len(p) && eq(s[:len(p)], p, icase)
}

func hasSuffix(s, p string, icase bool) bool {
	return len(s) >= len(p) && eq(s[len(s)-len(p):], p, icase)
}

func contains(s, p string, icase bool) bool {
	if !icase {
		return strings.Contains(s, p)
	}
	for i := 0; i+len(p) <= len(s); i++ {
		if eq(s[i:i+len(p)], p, true) {
			return true
		}
	}
	return false
}

// lowerASCII lowers s into buf when it has upper-case letters, without allocating for
// short strings; the result may alias buf.
func lowerASCII(s string, buf []byte) []byte {
	buf = buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
