package userlist

import (
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
	"strings"
)

// SHA-crypt parameters from the specification.
const (
	roundsDefault = 5000
	roundsMin     = 1000
	roundsMax     = 999999999
	saltMax       = 16
)

// Crypt computes the SHA-crypt string of password for setting, which is "$5$SALT",
// "$6$SALT" or either with "rounds=N$" after the prefix, optionally followed by "$" and
// anything (a whole stored hash is a valid setting, as with crypt(3)). The salt is cut
// to 16 bytes and N clamped to 1000..999999999, as the specification says. ok is false
// when setting is not a SHA-crypt setting.
func Crypt(password, setting string) (string, bool) {
	var newHash func() hash.Hash
	var order [][3]int
	switch {
	case strings.HasPrefix(setting, "$5$"):
		newHash, order = sha256.New, sha256Order
	case strings.HasPrefix(setting, "$6$"):
		newHash, order = sha512.New, sha512Order
	default:
		return "", false
	}
	prefix, rest := setting[:3], setting[3:]
	rounds, explicit := roundsDefault, false
	if strings.HasPrefix(rest, "rounds=") {
		num, after, ok := strings.Cut(rest[len("rounds="):], "$")
		if !ok {
			return "", false
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return "", false
		}
		rounds, explicit = int(min(max(n, roundsMin), roundsMax)), true
		rest = after
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > saltMax {
		salt = salt[:saltMax]
	}
	var b strings.Builder
	b.WriteString(prefix)
	if explicit {
		b.WriteString("rounds=")
		b.WriteString(strconv.Itoa(rounds))
		b.WriteByte('$')
	}
	b.WriteString(salt)
	b.WriteByte('$')
	digest := shaCrypt(newHash, []byte(password), []byte(salt), rounds)
	encode(&b, digest, order)
	return b.String(), true
}

// shaCrypt is steps 1 to 21 of the specification: the final digest C.
func shaCrypt(newHash func() hash.Hash, pw, salt []byte, rounds int) []byte {
	// Digest B: password, salt, password.
	h := newHash()
	h.Write(pw)
	h.Write(salt)
	h.Write(pw)
	b := h.Sum(nil)
	size := len(b)

	// Digest A: password, salt, B repeated over len(pw) bytes, then for each bit of
	// len(pw) from the lowest: B when set, the password when clear.
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

	// Sequence P: digest DP (the password len(pw) times) stretched to len(pw) bytes.
	h = newHash()
	for range len(pw) {
		h.Write(pw)
	}
	p := stretch(h.Sum(nil), len(pw))

	// Sequence S: digest DS (the salt 16+A[0] times) stretched to len(salt) bytes.
	h = newHash()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	s := stretch(h.Sum(nil), len(salt))

	// The rounds.
	c := a
	buf := make([]byte, 0, size)
	for i := range rounds {
		h.Reset()
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
		c = h.Sum(buf[:0])
		buf = c
	}
	return c
}

// stretch repeats d to n bytes.
func stretch(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(d) <= n {
		out = append(out, d...)
	}
	return append(out, d[:n-len(out)]...)
}

const cryptB64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// encode writes the digest in the specification's byte order and base64 variant: each
// triple (b2, b1, b0) gives four characters from the low bits up; index -1 is a zero
// byte, and the last group gives fewer characters.
func encode(b *strings.Builder, c []byte, order [][3]int) {
	for i, o := range order {
		var w uint
		for _, j := range o {
			w <<= 8
			if j >= 0 {
				w |= uint(c[j])
			}
		}
		n := 4
		if i == len(order)-1 {
			n = 3 // SHA-256: 2 bytes left -> 3 chars
			if len(c) == 64 {
				n = 2 // SHA-512: 1 byte left -> 2 chars
			}
		}
		for ; n > 0; n-- {
			b.WriteByte(cryptB64[w&0x3f])
			w >>= 6
		}
	}
}

var sha256Order = [][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
	{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}, {-1, 31, 30}}

var sha512Order = [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
	{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
	{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
	{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}, {-1, -1, 63}}
