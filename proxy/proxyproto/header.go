package proxyproto

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
)

// Errors returned by the readers and by Parse. Detailed errors wrap one of
// these, so callers test with errors.Is.
var (
	// ErrNotProxy means the connection does not start with a PROXY header
	// signature (v1 "PROXY " or the v2 12-byte signature).
	ErrNotProxy = errors.New("proxyproto: no PROXY protocol header")
	// ErrTruncated means the input ended inside a header. The stream readers
	// also wrap io.ErrUnexpectedEOF in that case.
	ErrTruncated = errors.New("proxyproto: truncated header")
	// ErrLineTooLong means 107 bytes of a v1 header went by without CRLF.
	ErrLineTooLong = errors.New("proxyproto: v1 header longer than 107 bytes")
	// ErrInvalid means a header was recognised but is malformed: bad
	// address, port, protocol, version, command, family or TLV.
	ErrInvalid = errors.New("proxyproto: invalid header")
)

// Command is the v2 command nibble.
type Command uint8

const (
	// CommandLocal: the connection was made by the proxy itself (health
	// checks); the receiver uses the real connection endpoints.
	CommandLocal Command = 0x0
	// CommandProxy: the connection is relayed on behalf of a client.
	CommandProxy Command = 0x1
)

func (c Command) String() string {
	switch c {
	case CommandLocal:
		return "LOCAL"
	case CommandProxy:
		return "PROXY"
	}
	return "Command(" + strconv.Itoa(int(c)) + ")"
}

// Family is the v2 address family nibble. v1 TCP4/TCP6/UNKNOWN map onto
// FamilyInet/FamilyInet6/FamilyUnspec.
type Family uint8

const (
	FamilyUnspec Family = 0x0
	FamilyInet   Family = 0x1
	FamilyInet6  Family = 0x2
	FamilyUnix   Family = 0x3
)

func (f Family) String() string {
	switch f {
	case FamilyUnspec:
		return "UNSPEC"
	case FamilyInet:
		return "INET"
	case FamilyInet6:
		return "INET6"
	case FamilyUnix:
		return "UNIX"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// Protocol is the v2 transport protocol nibble.
type Protocol uint8

const (
	ProtocolUnspec Protocol = 0x0
	ProtocolStream Protocol = 0x1
	ProtocolDgram  Protocol = 0x2
)

func (p Protocol) String() string {
	switch p {
	case ProtocolUnspec:
		return "UNSPEC"
	case ProtocolStream:
		return "STREAM"
	case ProtocolDgram:
		return "DGRAM"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// TLV types registered by the specification. Values are kept raw: this
// package neither verifies CRC32C nor decodes the SSL sub-TLVs.
const (
	TLVALPN      byte = 0x01
	TLVAuthority byte = 0x02
	TLVCRC32C    byte = 0x03
	TLVNoop      byte = 0x04
	TLVUniqueID  byte = 0x05
	TLVSSL       byte = 0x20
	TLVNetNS     byte = 0x30
)

// TLV is one v2 type-length-value extension, in wire order.
type TLV struct {
	Type  byte
	Value []byte
}

// Header is one parsed PROXY protocol header.
type Header struct {
	Version  int      // 1 or 2
	Command  Command  // always CommandProxy for v1
	Family   Family   // FamilyUnspec for v1 UNKNOWN and v2 LOCAL
	Protocol Protocol // ProtocolStream for v1 TCP4/TCP6

	// Src and Dst are set for FamilyInet and FamilyInet6. For FamilyInet6
	// an IPv4-mapped address stays mapped (::ffff:a.b.c.d), as on the wire.
	Src, Dst netip.AddrPort

	// SrcPath and DstPath are set for FamilyUnix. A Linux abstract socket
	// (leading NUL on the wire) is written with a leading '@', like net.UnixAddr.
	SrcPath, DstPath string

	// TLVs holds v2 extensions in wire order; values do not alias the input.
	TLVs []TLV
}

// Proxied reports whether the header carries the client's addresses. When it
// is false (v1 UNKNOWN, v2 LOCAL, v2 UNSPEC) the receiver must use the real
// connection endpoints, as the specification requires.
func (h *Header) Proxied() bool {
	return h.Command == CommandProxy && h.Family != FamilyUnspec
}

// Source returns the client address as a *net.TCPAddr, *net.UDPAddr or
// *net.UnixAddr, or nil when the header carries none.
func (h *Header) Source() net.Addr { return h.addr(h.Src, h.SrcPath) }

// Destination returns the address the client connected to, like Source.
func (h *Header) Destination() net.Addr { return h.addr(h.Dst, h.DstPath) }

func (h *Header) addr(ap netip.AddrPort, path string) net.Addr {
	if !h.Proxied() {
		return nil
	}
	switch h.Family {
	case FamilyInet, FamilyInet6:
		if h.Protocol == ProtocolDgram {
			return net.UDPAddrFromAddrPort(ap)
		}
		return net.TCPAddrFromAddrPort(ap)
	case FamilyUnix:
		if h.Protocol == ProtocolDgram {
			return &net.UnixAddr{Name: path, Net: "unixgram"}
		}
		return &net.UnixAddr{Name: path, Net: "unix"}
	}
	return nil
}

// TLV returns the value of the first TLV of type t and whether one exists.
func (h *Header) TLV(t byte) ([]byte, bool) {
	for _, x := range h.TLVs {
		if x.Type == t {
			return x.Value, true
		}
	}
	return nil, false
}
