package proxyproto

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// pair brings src and dst to one family the way haproxy does: both IPv4 gives
// INET; otherwise INET6 with any IPv4 address mapped (::ffff:a.b.c.d).
// Unlike haproxy, IPv4-mapped addresses on both sides are unmapped first, so
// an IPv4 client accepted on a dual-stack Go listener is sent as TCP4.
// Zones are dropped: they mean nothing to the receiver.
func pair(src, dst netip.AddrPort) (Family, netip.AddrPort, netip.AddrPort) {
	s, d := src.Addr().WithZone(""), dst.Addr().WithZone("")
	if s.Unmap().Is4() && d.Unmap().Is4() {
		return FamilyInet, netip.AddrPortFrom(s.Unmap(), src.Port()), netip.AddrPortFrom(d.Unmap(), dst.Port())
	}
	s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	return FamilyInet6, netip.AddrPortFrom(s, src.Port()), netip.AddrPortFrom(d, dst.Port())
}

// AppendV1 appends the v1 line for a TCP connection from src to dst, exactly
// as haproxy's send-proxy writes it ("PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n").
// If either address is invalid it appends "PROXY UNKNOWN\r\n", as haproxy does
// for an unknown family.
func AppendV1(b []byte, src, dst netip.AddrPort) []byte {
	if !src.IsValid() || !dst.IsValid() {
		return append(b, "PROXY UNKNOWN\r\n"...)
	}
	fam, s, d := pair(src, dst)
	return appendV1Line(b, fam, s, d)
}

func appendV1Line(b []byte, fam Family, s, d netip.AddrPort) []byte {
	if fam == FamilyInet {
		b = append(b, "PROXY TCP4 "...)
	} else {
		b = append(b, "PROXY TCP6 "...)
	}
	b = s.Addr().AppendTo(b)
	b = append(b, ' ')
	b = d.Addr().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(s.Port()), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(d.Port()), 10)
	return append(b, "\r\n"...)
}

// AppendV2 appends the v2 header for a TCP connection from src to dst
// followed by tlvs, exactly as haproxy's send-proxy-v2 writes it (command
// PROXY, 0x21; family 0x11 or 0x21; no TLVs unless given). If either address
// is invalid it appends a LOCAL header instead, like haproxy. The only error
// is a header whose TLVs do not fit the 16-bit length field; b is then
// returned unchanged.
func AppendV2(b []byte, src, dst netip.AddrPort, tlvs ...TLV) ([]byte, error) {
	if !src.IsValid() || !dst.IsValid() {
		return AppendV2Local(b, tlvs...)
	}
	fam, s, d := pair(src, dst)
	return (&Header{Version: 2, Command: CommandProxy, Family: fam, Protocol: ProtocolStream, Src: s, Dst: d, TLVs: tlvs}).Append(b)
}

// AppendV2Local appends a v2 LOCAL header (what haproxy sends on health
// checks with check-send-proxy): "...QUIT\n\x20\x00\x00\x00" plus tlvs.
func AppendV2Local(b []byte, tlvs ...TLV) ([]byte, error) {
	return (&Header{Version: 2, Command: CommandLocal, TLVs: tlvs}).Append(b)
}

// Append appends h in its own version's encoding. A v1 header that is not
// Proxied, or not TCP, cannot carry addresses and becomes "PROXY UNKNOWN\r\n"
// except that a v1 UNIX or DGRAM header is refused; a v2 header is written
// field for field. Addresses must match the family (IPv4 for FamilyInet).
// On error b is returned unchanged.
func (h *Header) Append(b []byte) ([]byte, error) {
	switch h.Version {
	case 1:
		if !h.Proxied() {
			return append(b, "PROXY UNKNOWN\r\n"...), nil
		}
		if h.Protocol != ProtocolStream || (h.Family != FamilyInet && h.Family != FamilyInet6) {
			return b, fmt.Errorf("proxyproto: v1 cannot carry %s/%s", h.Family, h.Protocol)
		}
		src, dst, err := h.inetAddrs()
		if err != nil {
			return b, err
		}
		return appendV1Line(b, h.Family, src, dst), nil
	case 2:
		return h.appendV2(b)
	}
	return b, fmt.Errorf("proxyproto: version %d (expected 1 or 2)", h.Version)
}

// inetAddrs returns Src and Dst in the form the family writes: IPv4 (an
// IPv4-mapped address is unmapped) for FamilyInet, 16-byte for FamilyInet6
// (an IPv4 address is mapped). Zones are dropped.
func (h *Header) inetAddrs() (netip.AddrPort, netip.AddrPort, error) {
	var out [2]netip.AddrPort
	for i, ap := range []netip.AddrPort{h.Src, h.Dst} {
		a := ap.Addr().WithZone("")
		switch {
		case !ap.IsValid():
			return out[0], out[1], fmt.Errorf("proxyproto: %s header without a valid address", h.Family)
		case h.Family == FamilyInet && !a.Unmap().Is4():
			return out[0], out[1], fmt.Errorf("proxyproto: address %v is not IPv4", a)
		case h.Family == FamilyInet:
			a = a.Unmap()
		default:
			a = netip.AddrFrom16(a.As16())
		}
		out[i] = netip.AddrPortFrom(a, ap.Port())
	}
	return out[0], out[1], nil
}

func (h *Header) appendV2(b []byte) ([]byte, error) {
	orig := len(b)
	fam, proto := h.Family, h.Protocol
	if h.Command == CommandLocal {
		fam, proto = FamilyUnspec, ProtocolUnspec
	} else if h.Command != CommandProxy {
		return b, fmt.Errorf("proxyproto: command %v", h.Command)
	}
	al, ok := v2AddrLen(fam, proto)
	if !ok {
		return b, fmt.Errorf("proxyproto: v2 cannot carry %s/%s", fam, proto)
	}
	n := al
	for _, t := range h.TLVs {
		if len(t.Value) > 0xffff {
			return b, fmt.Errorf("proxyproto: TLV type %#02x value of %d bytes exceeds 65535", t.Type, len(t.Value))
		}
		n += 3 + len(t.Value)
	}
	if n > 0xffff {
		return b, fmt.Errorf("proxyproto: v2 header body of %d bytes exceeds 65535", n)
	}
	b = append(b, sigV2...)
	b = append(b, 0x20|byte(h.Command), byte(fam)<<4|byte(proto))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	switch fam {
	case FamilyInet, FamilyInet6:
		src, dst, err := h.inetAddrs()
		if err != nil {
			return b[:orig], err
		}
		if fam == FamilyInet {
			s, d := src.Addr().As4(), dst.Addr().As4()
			b = append(b, s[:]...)
			b = append(b, d[:]...)
		} else {
			s, d := src.Addr().As16(), dst.Addr().As16()
			b = append(b, s[:]...)
			b = append(b, d[:]...)
		}
		b = binary.BigEndian.AppendUint16(b, src.Port())
		b = binary.BigEndian.AppendUint16(b, dst.Port())
	case FamilyUnix:
		for _, p := range []string{h.SrcPath, h.DstPath} {
			raw := []byte(p)
			if len(raw) > 0 && raw[0] == '@' {
				raw[0] = 0
			}
			if len(raw) > unixPathLen {
				return b[:orig], fmt.Errorf("proxyproto: unix path of %d bytes exceeds %d", len(raw), unixPathLen)
			}
			b = append(b, raw...)
			b = append(b, make([]byte, unixPathLen-len(raw))...)
		}
	}
	for _, t := range h.TLVs {
		b = append(b, t.Type)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b, nil
}
