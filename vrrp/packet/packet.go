package packet

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Protocol is the IP protocol number shared by VRRP and CARP.
const Protocol = 112

// Multicast destinations and the TTL / hop limit every advertisement must carry.
var (
	GroupV4 = netip.MustParseAddr("224.0.0.18")
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// TTL is the only TTL (IPv4) or hop limit (IPv6) a receiver accepts.
const TTL = 255

// Reasons a packet is rejected. Receivers count drops by these values, so each is a
// distinct sentinel.
var (
	ErrShort        = errors.New("packet too short")
	ErrVersion      = errors.New("unsupported version")
	ErrType         = errors.New("not an advertisement")
	ErrChecksum     = errors.New("bad checksum")
	ErrLength       = errors.New("address count does not match length")
	ErrAuth         = errors.New("authentication failed")
	ErrAuthType     = errors.New("authentication type mismatch")
	ErrInterval     = errors.New("zero advertisement interval")
	ErrAddrFamily   = errors.New("address family mismatch")
	ErrTooManyAddrs = errors.New("too many addresses")
)

// Auth types of VRRPv2 (RFC 3768 section 5.3.6; type 2 was IP AH and is not supported).
const (
	AuthNone   = 0
	AuthSimple = 1
)

// VRRP is one VRRP advertisement, version 2 or 3.
type VRRP struct {
	Version  int // 2 or 3
	VRID     uint8
	Priority uint8
	// Interval is in seconds for version 2 and centiseconds for version 3.
	Interval  uint16
	AuthType  uint8   // version 2 only
	AuthData  [8]byte // version 2 only: simple text password, zero padded
	Addresses []netip.Addr
}

// Options changes how checksums are computed.
type Options struct {
	// V3ChecksumAsV2 leaves the IPv4 pseudo-header out of the VRRPv3 checksum, as some
	// vendors do (keepalived's v3_checksum_as_v2). It has no effect on IPv6.
	V3ChecksumAsV2 bool
}

const maxAddrs = 255

// MarshalVRRP encodes v. src and dst are the IP source and destination, needed by the
// VRRPv3 pseudo-header checksum (ignored for version 2).
func MarshalVRRP(v *VRRP, src, dst netip.Addr, opt Options) ([]byte, error) {
	if v.Version != 2 && v.Version != 3 {
		return nil, ErrVersion
	}
	if len(v.Addresses) > maxAddrs {
		return nil, ErrTooManyAddrs
	}
	alen := 4
	is6 := len(v.Addresses) > 0 && v.Addresses[0].Is6() && !v.Addresses[0].Is4In6()
	if is6 {
		alen = 16
		if v.Version == 2 {
			return nil, fmt.Errorf("vrrp: version 2 carries IPv4 only: %w", ErrAddrFamily)
		}
	}
	n := 8 + alen*len(v.Addresses)
	if v.Version == 2 {
		n += 8
	}
	b := make([]byte, n)
	b[0] = byte(v.Version<<4) | 1
	b[1] = v.VRID
	b[2] = v.Priority
	b[3] = byte(len(v.Addresses))
	if v.Version == 2 {
		b[4] = v.AuthType
		b[5] = byte(v.Interval)
		if v.Interval > 255 {
			return nil, fmt.Errorf("vrrp: version 2 interval %ds over 255", v.Interval)
		}
	} else {
		if v.Interval > 0x0fff {
			return nil, fmt.Errorf("vrrp: version 3 interval %dcs over 4095", v.Interval)
		}
		binary.BigEndian.PutUint16(b[4:], v.Interval&0x0fff)
	}
	off := 8
	for _, a := range v.Addresses {
		if (alen == 16) != (a.Is6() && !a.Is4In6()) {
			return nil, ErrAddrFamily
		}
		if alen == 4 {
			a4 := a.Unmap().As4()
			copy(b[off:], a4[:])
		} else {
			a16 := a.As16()
			copy(b[off:], a16[:])
		}
		off += alen
	}
	if v.Version == 2 {
		copy(b[off:], v.AuthData[:])
	}
	binary.BigEndian.PutUint16(b[6:], vrrpChecksum(b, v.Version, src, dst, opt))
	return b, nil
}

func vrrpChecksum(b []byte, version int, src, dst netip.Addr, opt Options) uint16 {
	var sum uint32
	if version == 3 && src.IsValid() && dst.IsValid() {
		if src.Is4() || src.Is4In6() {
			if !opt.V3ChecksumAsV2 {
				s, d := src.Unmap().As4(), dst.Unmap().As4()
				sum = add(sum, s[:])
				sum = add(sum, d[:])
				sum += Protocol
				sum += uint32(len(b))
			}
		} else {
			s, d := src.As16(), dst.As16()
			sum = add(sum, s[:])
			sum = add(sum, d[:])
			sum += uint32(len(b))
			sum += Protocol
		}
	}
	// The checksum field itself counts as zero.
	sum = add(sum, b[:6])
	sum = add(sum, b[8:])
	return fold(sum)
}

// add sums 16-bit big-endian words (RFC 1071), padding an odd tail with zero.
func add(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Checksum is the RFC 1071 Internet checksum of b.
func Checksum(b []byte) uint16 { return fold(add(0, b)) }

// UnmarshalVRRP decodes and validates a VRRP advertisement received from src to dst. The
// address family of the addresses follows src. It checks version, type, length, the
// checksum and a non-zero interval; authentication is the caller's (see CheckAuth).
func UnmarshalVRRP(b []byte, src, dst netip.Addr, opt Options) (*VRRP, error) {
	if len(b) < 8 {
		return nil, ErrShort
	}
	v := &VRRP{Version: int(b[0] >> 4), VRID: b[1], Priority: b[2]}
	if v.Version != 2 && v.Version != 3 {
		return nil, ErrVersion
	}
	if b[0]&0x0f != 1 {
		return nil, ErrType
	}
	is6 := src.Is6() && !src.Is4In6()
	alen := 4
	if is6 {
		if v.Version == 2 {
			return nil, ErrAddrFamily
		}
		alen = 16
	}
	count := int(b[3])
	want := 8 + count*alen
	if v.Version == 2 {
		want += 8
	}
	// Version 2 always carries the 8 authentication bytes (keepalived sends them even
	// with no authentication), so both versions must match their count exactly.
	if len(b) != want {
		return nil, ErrLength
	}
	if got, wantSum := binary.BigEndian.Uint16(b[6:]), vrrpChecksum(b, v.Version, src, dst, opt); got != wantSum {
		return nil, ErrChecksum
	}
	if v.Version == 2 {
		v.AuthType = b[4]
		v.Interval = uint16(b[5])
		copy(v.AuthData[:], b[len(b)-8:])
	} else {
		v.Interval = binary.BigEndian.Uint16(b[4:]) & 0x0fff
	}
	if v.Interval == 0 {
		return nil, ErrInterval
	}
	off := 8
	for range count {
		if alen == 4 {
			v.Addresses = append(v.Addresses, netip.AddrFrom4([4]byte(b[off:off+4])))
		} else {
			v.Addresses = append(v.Addresses, netip.AddrFrom16([16]byte(b[off:off+16])))
		}
		off += alen
	}
	return v, nil
}

// SimpleAuth returns the 8-byte authentication field for a VRRPv2 text password: the
// first 8 bytes, zero padded, as keepalived and RFC 2338 do.
func SimpleAuth(pass string) [8]byte {
	var a [8]byte
	copy(a[:], pass)
	return a
}

// CheckAuth validates a VRRPv2 advertisement's authentication against the local
// configuration (RFC 3768 7.1: type and data must match). Version 3 has none.
func CheckAuth(v *VRRP, authType uint8, data [8]byte) error {
	if v.Version != 2 {
		return nil
	}
	if v.AuthType != authType {
		return ErrAuthType
	}
	if authType == AuthSimple && !hmac.Equal(v.AuthData[:], data[:]) {
		return ErrAuth
	}
	return nil
}

// CARP is one carp(4) advertisement.
type CARP struct {
	VHID    uint8
	AdvSkew uint8
	AdvBase uint8
	// Demote is OpenBSD's carp_demote (FreeBSD calls the byte carp_pad1 and sends 0).
	Demote  uint8
	Counter uint64
	MD      [20]byte
}

// CARPLen is the size of a CARP header: the whole packet after the IP header.
const CARPLen = 36

const (
	carpVersion = 2
	carpAdvert  = 1
	carpAuthLen = 7 // counter + digest in 32-bit words
)

// CARPKey turns a carp(4) password into the HMAC key: carp(4) keeps at most 20 bytes
// (CARP_KEY_LEN) of it.
func CARPKey(pass string) []byte {
	k := []byte(pass)
	if len(k) > 20 {
		k = k[:20]
	}
	return k
}

// CARPDigest computes carp(4)'s HMAC-SHA1: keyed by the password, over version, type,
// vhid, the virtual IPv4 addresses then IPv6 addresses each sorted ascending, and the
// 64-bit counter (carp_hmac_prepare/carp_hmac_generate in FreeBSD and OpenBSD).
func CARPDigest(key []byte, vhid uint8, addrs []netip.Addr, counter uint64) [20]byte {
	m := hmac.New(sha1.New, key)
	m.Write([]byte{carpVersion, carpAdvert, vhid})
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a.Is4() || a.Is4In6() {
			v4 = append(v4, a.Unmap())
		} else {
			v6 = append(v6, a.WithZone(""))
		}
	}
	slices.SortFunc(v4, netip.Addr.Compare)
	slices.SortFunc(v6, netip.Addr.Compare)
	for _, a := range v4 {
		b := a.As4()
		m.Write(b[:])
	}
	for _, a := range v6 {
		b := a.As16()
		m.Write(b[:])
	}
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], counter)
	m.Write(c[:])
	var md [20]byte
	copy(md[:], m.Sum(nil))
	return md
}

// MarshalCARP encodes c, computing its digest from key and the virtual addresses.
func MarshalCARP(c *CARP, key []byte, addrs []netip.Addr) []byte {
	c.MD = CARPDigest(key, c.VHID, addrs, c.Counter)
	b := make([]byte, CARPLen)
	b[0] = carpVersion<<4 | carpAdvert
	b[1] = c.VHID
	b[2] = c.AdvSkew
	b[3] = carpAuthLen
	b[4] = c.Demote
	b[5] = c.AdvBase
	binary.BigEndian.PutUint64(b[8:], c.Counter)
	copy(b[16:], c.MD[:])
	binary.BigEndian.PutUint16(b[6:], Checksum(b))
	return b
}

// UnmarshalCARP decodes and checks the form and checksum of a CARP advertisement. The
// digest is checked by VerifyCARP, which needs the receiver's key and addresses.
func UnmarshalCARP(b []byte) (*CARP, error) {
	if len(b) < CARPLen {
		return nil, ErrShort
	}
	if b[0]>>4 != carpVersion {
		return nil, ErrVersion
	}
	if b[0]&0x0f != carpAdvert {
		return nil, ErrType
	}
	if b[3] != carpAuthLen || len(b) != CARPLen {
		return nil, ErrLength
	}
	if Checksum(b) != 0 {
		return nil, ErrChecksum
	}
	c := &CARP{VHID: b[1], AdvSkew: b[2], Demote: b[4], AdvBase: b[5],
		Counter: binary.BigEndian.Uint64(b[8:])}
	copy(c.MD[:], b[16:36])
	return c, nil
}

// VerifyCARP checks c's digest against the local key and virtual addresses.
func VerifyCARP(c *CARP, key []byte, addrs []netip.Addr) error {
	want := CARPDigest(key, c.VHID, addrs, c.Counter)
	if !hmac.Equal(want[:], c.MD[:]) {
		return ErrAuth
	}
	return nil
}

// IsCARP tells a CARP header from a VRRP one sharing protocol 112: both start with
// version 2 / type 1, but CARP's fourth byte is its auth length (7) and its size is
// fixed at 36, where a VRRPv2 packet of 36 bytes counts 5 addresses.
func IsCARP(b []byte) bool {
	return len(b) == CARPLen && b[0] == carpVersion<<4|carpAdvert && b[3] == carpAuthLen
}
