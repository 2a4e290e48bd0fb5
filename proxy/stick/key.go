package stick

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Key is a table key normalized for its table: build it with the table's
// AddrKey, IntKey, StringKey, BinaryKey or ParseKey. Fixed-size keys (ip,
// ipv6, integer) live in an array so that building and looking them up does
// not allocate; string and binary keys live in str.
type Key struct {
	fixed [16]byte // ip: 4 bytes; ipv6: 16; integer: 4 bytes big-endian
	str   string
}

func (k *Key) u32() uint32 { return binary.BigEndian.Uint32(k.fixed[:4]) }

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
		copy(k.fixed[:], b[:])
		return k, true
	case TypeIPv6:
		if !a.IsValid() {
			return k, false
		}
		k.fixed = a.As16()
		return k, true
	}
	return k, false
}

// IntKey builds the key of an integer table.
func (t *Table) IntKey(v uint32) Key {
	var k Key
	binary.BigEndian.PutUint32(k.fixed[:4], v)
	return k
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
	var zero [16]byte
	switch t.def.Type {
	case TypeIP, TypeInteger:
		return k.str == "" && [12]byte(k.fixed[4:]) == [12]byte(zero[4:])
	case TypeIPv6:
		return k.str == ""
	case TypeString:
		return k.fixed == zero && len(k.str) <= t.def.KeyLen
	case TypeBinary:
		return k.fixed == zero && len(k.str) == t.def.KeyLen
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
		return netip.AddrFrom4([4]byte(k.fixed[:4])).AppendTo(b)
	case TypeIPv6:
		return netip.AddrFrom16(k.fixed).AppendTo(b)
	case TypeInteger:
		return strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(k.fixed[:4])), 10)
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
	if c := compareBytes(a.fixed[:], b.fixed[:]); c != 0 {
		return c
	}
	return strings.Compare(a.str, b.str)
}

func compareBytes(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
