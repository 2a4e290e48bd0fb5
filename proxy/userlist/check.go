package userlist

import (
	"crypto/subtle"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Kind classifies a stored password hash.
type Kind int

// Hash kinds Check knows.
const (
	KindUnknown Kind = iota // MD5 ($1$), DES, yescrypt ($y$), ...: never matches
	KindSHA256              // $5$
	KindSHA512              // $6$
	KindBcrypt              // $2a$, $2b$, $2y$
)

// KindOf classifies a crypt(3) hash by its prefix.
func KindOf(hash string) Kind {
	switch {
	case strings.HasPrefix(hash, "$5$"):
		return KindSHA256
	case strings.HasPrefix(hash, "$6$"):
		return KindSHA512
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return KindBcrypt
	}
	return KindUnknown
}

// Check says whether password is the one stored: stored is clear text when insecure
// (`insecure-password`), else a crypt(3) hash (`password`). Comparisons are constant
// time in the compared bytes; an unknown hash kind never matches.
func Check(password, stored string, insecure bool) bool {
	if insecure {
		return subtle.ConstantTimeCompare([]byte(password), []byte(stored)) == 1
	}
	switch KindOf(stored) {
	case KindSHA256, KindSHA512:
		got, ok := Crypt(password, stored)
		return ok && subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1
	case KindBcrypt:
		// bcrypt knows $2a$ and $2b$; $2y$ (PHP's name for the fixed variant) is the
		// same algorithm as $2b$.
		h := stored
		if strings.HasPrefix(h, "$2y$") {
			h = "$2b$" + h[4:]
		}
		return bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil
	}
	return false
}

// KindName names a hash kind for messages, never echoing the hash itself.
func KindName(hash string) string {
	if len(hash) > 1 {
		if i := strings.IndexByte(hash[1:], '$'); i >= 0 {
			return hash[:i+2] + "..."
		}
	}
	return "?"
}
