package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

const (
	// v1MaxLen is the longest v1 header including CRLF, from the spec:
	// "PROXY TCP6 " + 2×39 address chars + 2×5 port digits + 3 spaces + CRLF.
	v1MaxLen = 107
	// v2FixedLen is the signature, version/command, family and length.
	v2FixedLen = 16
	// Address block sizes of v2 by family.
	v2AddrLenInet  = 12
	v2AddrLenInet6 = 36
	v2AddrLenUnix  = 216
	unixPathLen    = 108
)

var (
	sigV1 = []byte("PROXY ")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// errNeedMore is headerLen's "the bytes so far are a valid prefix".
var errNeedMore = errors.New("proxyproto: need more bytes")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// headerLen classifies the first bytes of a connection and returns the
// header's total length once it can be known without looking past the
// header: at 16 bytes for v2, at the CRLF for v1. It returns errNeedMore while
// b is a prefix that could still become a valid header, and fails as early as
// the bytes allow, so garbage is refused without waiting for more input.
func headerLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, errNeedMore
	}
	switch b[0] {
	case sigV2[0]:
		k := min(len(b), len(sigV2))
		if !bytes.Equal(b[:k], sigV2[:k]) {
			return 0, ErrNotProxy
		}
		if len(b) > 12 && b[12]>>4 != 2 {
			return 0, invalid("v2: version %d", b[12]>>4)
		}
		if len(b) < v2FixedLen {
			return 0, errNeedMore
		}
		return v2FixedLen + int(binary.BigEndian.Uint16(b[14:16])), nil
	case sigV1[0]:
		k := min(len(b), len(sigV1))
		if !bytes.Equal(b[:k], sigV1[:k]) {
			return 0, ErrNotProxy
		}
		line := b[:min(len(b), v1MaxLen)]
		i := bytes.IndexByte(line, '\n')
		if i < 0 {
			if len(b) >= v1MaxLen {
				return 0, ErrLineTooLong
			}
			return 0, errNeedMore
		}
		if b[i-1] != '\r' { // i >= 6: the signature holds no '\n'
			return 0, invalid("v1: line ends in a bare LF")
		}
		return i + 1, nil
	}
	return 0, ErrNotProxy
}

// Parse parses the header at the start of b and returns it with its length in
// bytes; b[n:] is the stream behind the header. If b holds only a prefix of a
// header that could still be valid, Parse returns ErrTruncated: a stream
// reader reads more and tries again. The Header does not alias b.
func Parse(b []byte) (h *Header, n int, err error) {
	n, err = headerLen(b)
	if err == errNeedMore || (err == nil && n > len(b)) {
		return nil, 0, ErrTruncated
	}
	if err != nil {
		return nil, 0, err
	}
	if b[0] == sigV1[0] {
		h, err = parseV1(b[:n])
	} else {
		h, err = parseV2(b[:n])
	}
	if err != nil {
		return nil, 0, err
	}
	return h, n, nil
}

// parseV1 parses one complete line, CRLF included.
func parseV1(line []byte) (*Header, error) {
	body := line[len(sigV1) : len(line)-2]
	// UNKNOWN: "the receiver must ignore anything presented before the CRLF".
	if bytes.Equal(body, []byte("UNKNOWN")) || bytes.HasPrefix(body, []byte("UNKNOWN ")) {
		return &Header{Version: 1, Command: CommandProxy}, nil
	}
	f := bytes.Split(body, []byte(" "))
	if len(f) < 1 || (string(f[0]) != "TCP4" && string(f[0]) != "TCP6") {
		return nil, invalid("v1: protocol %q (expected TCP4, TCP6 or UNKNOWN)", f[0])
	}
	if len(f) != 5 {
		return nil, invalid("v1: %d fields after the protocol (expected source, destination, source port, destination port separated by single spaces)", len(f)-1)
	}
	six := string(f[0]) == "TCP6"
	h := &Header{Version: 1, Command: CommandProxy, Family: FamilyInet, Protocol: ProtocolStream}
	if six {
		h.Family = FamilyInet6
	}
	src, err := parseV1Addr(f[1], six, "source")
	if err != nil {
		return nil, err
	}
	dst, err := parseV1Addr(f[2], six, "destination")
	if err != nil {
		return nil, err
	}
	sp, err := parseV1Port(f[3], "source")
	if err != nil {
		return nil, err
	}
	dp, err := parseV1Port(f[4], "destination")
	if err != nil {
		return nil, err
	}
	h.Src = netip.AddrPortFrom(src, sp)
	h.Dst = netip.AddrPortFrom(dst, dp)
	return h, nil
}

func parseV1Addr(b []byte, six bool, what string) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	switch {
	case err != nil:
		return netip.Addr{}, invalid("v1: %s address %q", what, b)
	case a.Zone() != "":
		return netip.Addr{}, invalid("v1: %s address %q has a zone", what, b)
	case six && !a.Is6():
		return netip.Addr{}, invalid("v1: TCP6 %s address %q is not IPv6", what, b)
	case !six && !a.Is4():
		return netip.Addr{}, invalid("v1: TCP4 %s address %q is not IPv4", what, b)
	}
	return a, nil
}

// parseV1Port accepts what a sender printing with %d produces: 1 to 5
// digits, no sign, no leading zero, at most 65535.
func parseV1Port(b []byte, what string) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, invalid("v1: %s port %q", what, b)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, invalid("v1: %s port %q", what, b)
		}
	}
	v, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return 0, invalid("v1: %s port %q out of range", what, b)
	}
	return uint16(v), nil
}

// parseV2 parses one complete v2 header (fixed part + declared length).
func parseV2(b []byte) (*Header, error) {
	h := &Header{Version: 2}
	cmd := Command(b[12] & 0x0f)
	fam, proto := Family(b[13]>>4), Protocol(b[13]&0x0f)
	body := bytes.Clone(b[v2FixedLen:])
	switch cmd {
	case CommandLocal:
		// The spec says the receiver must accept LOCAL and discard the
		// address block, whatever family it claims. TLVs are kept when
		// they can be found and are well formed.
		h.Command = CommandLocal
		if al, ok := v2AddrLen(fam, proto); ok && len(body) >= al {
			if tlvs, err := parseTLVs(body[al:]); err == nil {
				h.TLVs = tlvs
			}
		}
		return h, nil
	case CommandProxy:
		h.Command = CommandProxy
	default:
		return nil, invalid("v2: command %#x (expected LOCAL 0x0 or PROXY 0x1)", uint8(cmd))
	}
	al, ok := v2AddrLen(fam, proto)
	if !ok {
		return nil, invalid("v2: family/protocol byte %#02x", b[13])
	}
	if len(body) < al {
		return nil, invalid("v2: length %d shorter than the %s address block (%d)", len(body), fam, al)
	}
	h.Family, h.Protocol = fam, proto
	a := body[:al]
	switch fam {
	case FamilyInet:
		h.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case FamilyInet6:
		h.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	case FamilyUnix:
		h.SrcPath = unixPath(a[:unixPathLen])
		h.DstPath = unixPath(a[unixPathLen:])
	}
	tlvs, err := parseTLVs(body[al:])
	if err != nil {
		return nil, err
	}
	h.TLVs = tlvs
	return h, nil
}

// v2AddrLen returns the address block size for the family/protocol pairs the
// spec defines; every other pair "must be rejected as invalid by receivers".
func v2AddrLen(f Family, p Protocol) (int, bool) {
	switch {
	case f == FamilyUnspec && p == ProtocolUnspec:
		return 0, true
	case p != ProtocolStream && p != ProtocolDgram:
		return 0, false
	case f == FamilyInet:
		return v2AddrLenInet, true
	case f == FamilyInet6:
		return v2AddrLenInet6, true
	case f == FamilyUnix:
		return v2AddrLenUnix, true
	}
	return 0, false
}

func unixPath(b []byte) string {
	if len(b) > 0 && b[0] == 0 { // Linux abstract namespace
		rest := b[1:]
		if i := bytes.IndexByte(rest, 0); i >= 0 {
			rest = rest[:i]
		}
		return "@" + string(rest)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func parseTLVs(b []byte) ([]TLV, error) {
	var tlvs []TLV
	for len(b) > 0 {
		if len(b) < 3 {
			return nil, invalid("v2: %d stray bytes after the last TLV", len(b))
		}
		l := int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+l {
			return nil, invalid("v2: TLV type %#02x length %d overruns the header", b[0], l)
		}
		tlvs = append(tlvs, TLV{Type: b[0], Value: b[3 : 3+l : 3+l]})
		b = b[3+l:]
	}
	return tlvs, nil
}
