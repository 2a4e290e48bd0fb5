package config

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strconv"
	"strings"
)

// shaCrypt checks a password against a SHA-crypt hash ($5$ SHA-256, $6$ SHA-512), the
// formats `mkpasswd -m sha-512` and `openssl passwd -6` produce for userlist `password`
// lines (Ulrich Drepper's specification). ok is false for other hash formats.
func shaCrypt(password, hashed string) (match, ok bool) {
	var newHash func() hash.Hash
	var order [][3]int
	var tail []int
	switch {
	case strings.HasPrefix(hashed, "$5$"):
		newHash = sha256.New
		order = sha256Order
		tail = []int{-1, 31, 30}
	case strings.HasPrefix(hashed, "$6$"):
		newHash = sha512.New
		order = sha512Order
		tail = []int{-1, -1, 63}
	default:
		return false, false
	}
	rest := hashed[3:]
	rounds, explicit := 5000, false
	if strings.HasPrefix(rest, "rounds=") {
		end := strings.IndexByte(rest, '$')
		if end < 0 {
			return false, true
		}
		n, err := strconv.Atoi(rest[len("rounds="):end])
		if err != nil {
			return false, true
		}
		rounds, explicit = min(max(n, 1000), 999999999), true
		rest = rest[end+1:]
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > 16 {
		salt = salt[:16]
	}
	want := shaCryptEncode(newHash, []byte(password), []byte(salt), rounds, order, tail)
	prefix := hashed[:3]
	if explicit {
		prefix += "rounds=" + strconv.Itoa(rounds) + "$"
	}
	full := prefix + salt + "$" + want
	return subtle.ConstantTimeCompare([]byte(full), []byte(hashed)) == 1, true
}

func shaCryptEncode(newHash func() hash.Hash, pw, salt []byte, rounds int, order [][3]int, tail []int) string {
	h := newHash()
	size := h.Size()
	h.Write(pw)
	h.Write(salt)
	h.Write(pw)
	b := h.Sum(nil)

	h = newHash()
	h.Write(pw)
	h.Write(salt)
	n := len(pw)
	for ; n > size; n -= size {
		h.Write(b)
	}
	h.Write(b[:n])
	for n = len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(pw)
		}
	}
	a := h.Sum(nil)

	h = newHash()
	for range len(pw) {
		h.Write(pw)
	}
	dp := h.Sum(nil)
	p := make([]byte, 0, len(pw))
	for len(p)+size <= len(pw) {
		p = append(p, dp...)
	}
	p = append(p, dp[:len(pw)-len(p)]...)

	h = newHash()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	ds := h.Sum(nil)
	s := make([]byte, 0, len(salt))
	for len(s)+size <= len(salt) {
		s = append(s, ds...)
	}
	s = append(s, ds[:len(salt)-len(s)]...)

	c := a
	for i := range rounds {
		h = newHash()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(nil)
	}

	var out strings.Builder
	enc := func(b2, b1, b0 byte, n int) {
		w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
		for ; n > 0; n-- {
			out.WriteByte(cryptB64[w&0x3f])
			w >>= 6
		}
	}
	for _, o := range order {
		enc(c[o[0]], c[o[1]], c[o[2]], 4)
	}
	get := func(i int) byte {
		if i < 0 {
			return 0
		}
		return c[i]
	}
	if size == 32 {
		enc(get(tail[0]), get(tail[1]), get(tail[2]), 3)
	} else {
		enc(get(tail[0]), get(tail[1]), get(tail[2]), 2)
	}
	return out.String()
}

const cryptB64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var sha256Order = [][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
	{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}}

var sha512Order = [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
	{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
	{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
	{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
