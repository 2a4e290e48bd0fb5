package stick

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Key is a table key normalized for its table: build it with the table's
// AddrKey, IntKey, StringKey, BinaryKey or ParseKey. Fixed-size keys (ip,
// ipv6, integer) are 16 big-endian bytes held in two words, hi (bytes 0-7)
// and lo (8-15): ip and integer keys are the 4 top bytes of hi. Words, not a
// [16]byte, so that a Key travels in registers: an array goes through
// memory, and a key rebuilt in memory at each operation was measured to
// keep consecutive lookups from overlapping their cache misses
// (docs/dev/stick-perf.md). String and binary keys live in str.
type Key struct {
	hi, lo uint64
	str    string
}

func (k *Key) u32() uint32 { return uint32(k.hi >> 32) }

// keyOf4 is the key of 4 big-endian bytes (ip, integer).
func keyOf4(v uint32) Key { return Key{hi: uint64(v) << 32} }

// keyOf16 is the key of 16 bytes (ipv6).
func keyOf16(b [16]byte) Key {
	return Key{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// bytes16 returns a fixed-size key's 16 bytes.
func (k *Key) bytes16() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return b
}

// is4 reports whether a fixed-size key fits in 4 bytes.
func (k *Key) is4() bool { return uint32(k.hi) == 0 && k.lo == 0 }

// ErrInvalidKey is returned for keys that do not fit the table's type.
var ErrInvalidKey = errors.New("Invalid key")

// AddrKey builds the key for address a. An ip table takes IPv4 and
// IPv4-mapped IPv6 addresses; an ipv6 table stores IPv4 as ::ffff:a.b.c.d.
// ok is false when the address cannot be a key of this table.
func (t *Table) AddrKey(a netip.Addr) (k Key, ok bool) {
	switch t.def.Type {
	case TypeIP:
		a = a.Unmap()
		if !a.Is4() {
			return k, false
		}
		b := a.As4()
		return keyOf4(binary.BigEndian.Uint32(b[:])), true
	case TypeIPv6:
		if !a.IsValid() {
			return k, false
		}
		return keyOf16(a.As16()), true
	}
	return k, false
}

// IntKey builds the key of an integer table.
func (t *Table) IntKey(v uint32) Key {
	return keyOf4(v)
}

// StringKey builds the key of a string table, truncated to the table's len.
// It does not allocate.
func (t *Table) StringKey(s string) Key {
	if len(s) > t.def.KeyLen {
		s = s[:t.def.KeyLen]
	}
	// HAProxy stores keys as C strings: a NUL ends the key.
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return Key{str: s}
}

// BinaryKey builds the key of a binary table: truncated or zero-padded to
// the table's len.
func (t *Table) BinaryKey(b []byte) Key {
	n := t.def.KeyLen
	if len(b) >= n {
		return Key{str: string(b[:n])}
	}
	buf := make([]byte, n)
	copy(buf, b)
	return Key{str: string(buf)}
}

// validKey reports whether k (decoded from a peer) is a well-formed key of
// this table.
func (t *Table) validKey(k *Key) bool {
	zero := k.hi == 0 && k.lo == 0
	switch t.def.Type {
	case TypeIP, TypeInteger:
		return k.str == "" && k.is4()
	case TypeIPv6:
		return k.str == ""
	case TypeString:
		return zero && len(k.str) <= t.def.KeyLen
	case TypeBinary:
		return zero && len(k.str) == t.def.KeyLen
	}
	return false
}

// ParseKey parses the text form of a key as typed on the runtime API
// (`show table NAME key K`): a dotted IPv4 address, an IPv6 address, an
// unsigned 32-bit decimal, a string, or hex digits for binary tables.
func (t *Table) ParseKey(s string) (Key, error) {
	switch t.def.Type {
	case TypeIP, TypeIPv6:
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return Key{}, ErrInvalidKey
		}
		k, ok := t.AddrKey(a)
		if !ok {
			return Key{}, ErrInvalidKey
		}
		return k, nil
	case TypeInteger:
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return Key{}, ErrInvalidKey
		}
		return t.IntKey(uint32(v)), nil
	case TypeString:
		return t.StringKey(s), nil
	case TypeBinary:
		b, err := hex.DecodeString(s)
		if err != nil {
			return Key{}, ErrInvalidKey
		}
		return t.BinaryKey(b), nil
	}
	return Key{}, ErrInvalidKey
}

// FormatKey renders k the way `show table` prints it.
func (t *Table) FormatKey(k Key) string {
	return string(t.appendKey(nil, &k))
}

func (t *Table) appendKey(b []byte, k *Key) []byte {
	switch t.def.Type {
	case TypeIP:
		v := k.u32()
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).AppendTo(b)
	case TypeIPv6:
		return netip.AddrFrom16(k.bytes16()).AppendTo(b)
	case TypeInteger:
		return strconv.AppendUint(b, uint64(k.u32()), 10)
	case TypeString:
		return appendText(b, k.str)
	case TypeBinary:
		return hex.AppendEncode(b, []byte(k.str))
	}
	return b
}

// appendText escapes like HAProxy's dump_text: space, '=' and '\' get a
// backslash, control characters a C escape or \xHH.
func appendText(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '=' || c == '\\':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == 0x1b:
			b = append(b, '\\', 'e')
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hexd[c>>4], hexd[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// compareKeys orders keys like HAProxy's key tree (byte order), which is
// numeric order for ip, ipv6 and integer keys.
func compareKeys(a, b *Key) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(a.lo, b.lo); c != 0 {
		return c
	}
	return strings.Compare(a.str, b.str)
}
