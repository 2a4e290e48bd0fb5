package proxyproto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func v2(verCmd, fam byte, body string) []byte {
	b, _ := hex.DecodeString(body)
	out := append([]byte(nil), sigV2...)
	out = append(out, verCmd, fam, byte(len(b)>>8), byte(len(b)))
	return append(out, b...)
}

func unixBlock(src, dst string) string {
	pad := func(s string) string {
		b := make([]byte, unixPathLen)
		copy(b, s)
		return hex.EncodeToString(b)
	}
	return pad(src) + pad(dst)
}

func TestParseValid(t *testing.T) {
	ap := netip.MustParseAddrPort
	max107 := "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
	if len(max107) != 107 {
		t.Fatalf("worst case line is %d bytes", len(max107))
	}
	cases := []struct {
		name string
		in   []byte
		want Header
	}{
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), Header{Version: 1, Command: CommandProxy}},
		{"v1 unknown worst case 107 bytes", []byte(max107), Header{Version: 1, Command: CommandProxy}},
		{"v1 unknown with junk", []byte("PROXY UNKNOWN whatever \x01 here\r\n"), Header{Version: 1, Command: CommandProxy}},
		{"v1 tcp4 port 0", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n"),
			Header{Version: 1, Command: CommandProxy, Family: FamilyInet, Protocol: ProtocolStream, Src: ap("1.2.3.4:0"), Dst: ap("5.6.7.8:65535")}},
		{"v1 tcp6 mapped", []byte("PROXY TCP6 ::ffff:1.2.3.4 2001:db8::2 1 2\r\n"),
			Header{Version: 1, Command: CommandProxy, Family: FamilyInet6, Protocol: ProtocolStream, Src: ap("[::ffff:1.2.3.4]:1"), Dst: ap("[2001:db8::2]:2")}},
		{"v2 udp4", v2(0x21, 0x12, "0a0000010a0000020035d903"),
			Header{Version: 2, Command: CommandProxy, Family: FamilyInet, Protocol: ProtocolDgram, Src: ap("10.0.0.1:53"), Dst: ap("10.0.0.2:55555")}},
		{"v2 udp6", v2(0x22&0xf0|0x1, 0x22, "20010db8000000000000000000000001"+"20010db8000000000000000000000002"+"0001"+"0002"),
			Header{Version: 2, Command: CommandProxy, Family: FamilyInet6, Protocol: ProtocolDgram, Src: ap("[2001:db8::1]:1"), Dst: ap("[2001:db8::2]:2")}},
		{"v2 unix stream", v2(0x21, 0x31, unixBlock("/run/a.sock", "/run/b.sock")),
			Header{Version: 2, Command: CommandProxy, Family: FamilyUnix, Protocol: ProtocolStream, SrcPath: "/run/a.sock", DstPath: "/run/b.sock"}},
		{"v2 unix dgram abstract", v2(0x21, 0x32, unixBlock("\x00abs", "/x")),
			Header{Version: 2, Command: CommandProxy, Family: FamilyUnix, Protocol: ProtocolDgram, SrcPath: "@abs", DstPath: "/x"}},
		{"v2 proxy unspec with tlv", v2(0x21, 0x00, "0500026964"),
			Header{Version: 2, Command: CommandProxy, TLVs: []TLV{{TLVUniqueID, []byte("id")}}}},
		{"v2 local ignores family and keeps tlvs", v2(0x20, 0x11, "7f0000017f00000200010002"+"04000100"),
			Header{Version: 2, Command: CommandLocal, TLVs: []TLV{{TLVNoop, []byte{0}}}}},
		{"v2 local with unknown family is accepted", v2(0x20, 0xff, "0102"),
			Header{Version: 2, Command: CommandLocal}},
		{"v2 local with broken tlvs is accepted", v2(0x20, 0x00, "01ffff"),
			Header{Version: 2, Command: CommandLocal}},
		{"v2 empty tlv", v2(0x21, 0x11, "7f0000017f00000200010002"+"e00000"),
			Header{Version: 2, Command: CommandProxy, Family: FamilyInet, Protocol: ProtocolStream, Src: ap("127.0.0.1:1"), Dst: ap("127.0.0.2:2"), TLVs: []TLV{{0xe0, []byte{}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append(append([]byte(nil), c.in...), "STREAM"...)
			h, n, err := Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(c.in) || string(in[n:]) != "STREAM" {
				t.Fatalf("n = %d; want %d", n, len(c.in))
			}
			if !reflect.DeepEqual(*h, c.want) {
				t.Fatalf("got  %+v\nwant %+v", *h, c.want)
			}
			// The header must not alias the input.
			for i := range in {
				in[i] = 0
			}
			if !reflect.DeepEqual(*h, c.want) {
				t.Fatalf("header changed with its input: %+v", *h)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := "PROXY UNKNOWN " + strings.Repeat("x", 92) + "\r\n" // 108 bytes
	cases := []struct {
		name string
		in   []byte
		want error
		msg  string // substring of the error text
	}{
		{"empty", nil, ErrTruncated, ""},
		{"http request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ErrNotProxy, ""},
		{"tls hello", []byte{0x16, 0x03, 0x01, 0x00, 0xa5}, ErrNotProxy, ""},
		{"near v1", []byte("PROXZ TCP4"), ErrNotProxy, ""},
		{"v1 no space", []byte("PROXYTCP4"), ErrNotProxy, ""},
		{"near v2", []byte("\r\n\r\n\x00\r\nQUIX\n!\x11\x00\x00"), ErrNotProxy, ""},
		{"blank line", []byte("\r\n"), ErrTruncated, ""},
		{"blank lines", []byte("\r\n\r\nGET"), ErrNotProxy, ""},
		{"v1 prefix", []byte("PRO"), ErrTruncated, ""},
		{"v1 no crlf yet", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2"), ErrTruncated, ""},
		{"v1 108 bytes", []byte(long), ErrLineTooLong, ""},
		{"v1 107 bytes no crlf", []byte(strings.Repeat("PROXY ", 20)), ErrLineTooLong, ""},
		{"v1 bare lf", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), ErrInvalid, "bare LF"},
		{"v1 protocol", []byte("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid, "protocol"},
		{"v1 lowercase", []byte("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid, "protocol"},
		{"v1 empty", []byte("PROXY \r\n"), ErrInvalid, "protocol"},
		{"v1 missing port", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), ErrInvalid, "fields"},
		{"v1 extra field", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), ErrInvalid, "fields"},
		{"v1 double space", []byte("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), ErrInvalid, "fields"},
		{"v1 trailing space", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), ErrInvalid, "fields"},
		{"v1 tcp4 with v6", []byte("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), ErrInvalid, "not IPv4"},
		{"v1 tcp4 mapped", []byte("PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid, "not IPv4"},
		{"v1 tcp6 with v4", []byte("PROXY TCP6 ::1 5.6.7.8 1 2\r\n"), ErrInvalid, "not IPv6"},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), ErrInvalid, "zone"},
		{"v1 octal-looking ipv4", []byte("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), ErrInvalid, "source address"},
		{"v1 short ipv4", []byte("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), ErrInvalid, "source address"},
		{"v1 hostname", []byte("PROXY TCP4 1.2.3.4 localhost 1 2\r\n"), ErrInvalid, "destination address"},
		{"v1 port too big", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), ErrInvalid, "source port"},
		{"v1 port six digits", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 000080\r\n"), ErrInvalid, "destination port"},
		{"v1 port leading zero", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), ErrInvalid, "source port"},
		{"v1 port sign", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n"), ErrInvalid, "source port"},
		{"v1 port negative", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n"), ErrInvalid, "destination port"},
		{"v1 port hex", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 0x50 2\r\n"), ErrInvalid, "source port"},
		{"v2 fixed part short", v2(0x21, 0x11, "")[:15], ErrTruncated, ""},
		{"v2 body short", v2(0x21, 0x11, "7f0000017f00000200010002")[:20], ErrTruncated, ""},
		{"v2 version 1", v2(0x11, 0x11, "7f0000017f00000200010002"), ErrInvalid, "version 1"},
		{"v2 version 3", v2(0x31, 0x11, "7f0000017f00000200010002"), ErrInvalid, "version 3"},
		{"v2 command 2", v2(0x22, 0x11, "7f0000017f00000200010002"), ErrInvalid, "command"},
		{"v2 family 4", v2(0x21, 0x41, "7f0000017f00000200010002"), ErrInvalid, "family"},
		{"v2 protocol 3", v2(0x21, 0x13, "7f0000017f00000200010002"), ErrInvalid, "family"},
		{"v2 inet unspec protocol", v2(0x21, 0x10, "7f0000017f00000200010002"), ErrInvalid, "family"},
		{"v2 unspec family with protocol", v2(0x21, 0x01, ""), ErrInvalid, "family"},
		{"v2 inet block short", v2(0x21, 0x11, "7f0000017f000002"), ErrInvalid, "shorter"},
		{"v2 inet6 block short", v2(0x21, 0x21, "7f0000017f00000200010002"), ErrInvalid, "shorter"},
		{"v2 unix block short", v2(0x21, 0x31, "00"), ErrInvalid, "shorter"},
		{"v2 tlv overrun", v2(0x21, 0x11, "7f0000017f00000200010002"+"010005616263"), ErrInvalid, "overruns"},
		{"v2 stray tlv bytes", v2(0x21, 0x11, "7f0000017f00000200010002"+"0100"), ErrInvalid, "stray"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := Parse(c.in)
			if !errors.Is(err, c.want) || h != nil || n != 0 {
				t.Fatalf("Parse = %+v, %d, %v; want %v", h, n, err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// TestRoundTrip re-encodes parsed headers and parses them again: the two
// headers must be equal, and canonical inputs must come back byte for byte.
func TestRoundTrip(t *testing.T) {
	canonical := [][]byte{
		[]byte("PROXY UNKNOWN\r\n"),
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.7 40000 443\r\n"),
		[]byte("PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 1 65535\r\n"),
		v2(0x20, 0x00, ""),
		v2(0x20, 0x00, "0400020000"),
		v2(0x21, 0x11, "c0000201c6336407"+"9c4001bb"+"0100026832"+"2000050100000000"),
		v2(0x21, 0x22, "20010db8000000000000000000000001"+"00000000000000000000ffffc0000201"+"00010002"),
		v2(0x21, 0x31, unixBlock("/a", "\x00b")),
		v2(0x21, 0x00, ""),
	}
	for _, in := range canonical {
		h, _, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		out, err := h.Append(nil)
		if err != nil {
			t.Fatalf("Append(%+v): %v", h, err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("round trip\n in  %x\n out %x", in, out)
		}
	}
}

func TestHeaderAddrs(t *testing.T) {
	h, _, _ := Parse([]byte("PROXY TCP4 192.0.2.1 198.51.100.7 40000 443\r\n"))
	if h.Source().String() != "192.0.2.1:40000" || h.Destination().Network() != "tcp" {
		t.Fatalf("Source %v Destination %v", h.Source(), h.Destination())
	}
	h, _, _ = Parse(v2(0x21, 0x12, "0a0000010a0000020035d903"))
	if h.Source().Network() != "udp" || h.Destination().String() != "10.0.0.2:55555" {
		t.Fatalf("udp Source %v Destination %v", h.Source(), h.Destination())
	}
	h, _, _ = Parse([]byte("PROXY UNKNOWN\r\n"))
	if h.Source() != nil || h.Proxied() {
		t.Fatalf("UNKNOWN carries %v", h.Source())
	}
}

func TestAppendRefusesWhatFamiliesCannotCarry(t *testing.T) {
	bad := []Header{
		{Version: 3},
		{Version: 1, Command: CommandProxy, Family: FamilyUnix, Protocol: ProtocolStream, SrcPath: "/a"},
		{Version: 1, Command: CommandProxy, Family: FamilyInet, Protocol: ProtocolDgram},
		{Version: 1, Command: CommandProxy, Family: FamilyInet, Protocol: ProtocolStream, Src: netip.MustParseAddrPort("[::1]:1"), Dst: netip.MustParseAddrPort("1.2.3.4:1")},
		{Version: 2, Command: CommandProxy, Family: FamilyInet, Protocol: ProtocolStream},
		{Version: 2, Command: 5},
		{Version: 2, Command: CommandProxy, Family: 9, Protocol: ProtocolStream},
		{Version: 2, Command: CommandProxy, Family: FamilyUnix, Protocol: ProtocolStream, SrcPath: strings.Repeat("x", 109)},
	}
	for _, h := range bad {
		out, err := h.Append([]byte("keep"))
		if err == nil || string(out) != "keep" {
			t.Errorf("Append(%+v) = %q, %v; want error and input unchanged", h, out, err)
		}
	}
}
