package proxyproto

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
)

// Bytes captured from haproxy 2.6.12 (Debian bookworm) on loopback: a client
// bound to 127.0.0.2:54321 (or [::1]:5432x) connected to a listen section on
// 127.0.0.3:1844x (or [::1]) whose server had send-proxy / send-proxy-v2; the
// LOCAL header is what the same server line sends on a health check with
// check-send-proxy. The capture was a socat listener writing to a file.
var haproxyGolden = []struct {
	name     string
	v        int
	src, dst string
	hex      string
}{
	{"v1 tcp4", 1, "127.0.0.2:54321", "127.0.0.3:18443",
		hex.EncodeToString([]byte("PROXY TCP4 127.0.0.2 127.0.0.3 54321 18443\r\n"))},
	{"v2 tcp4", 2, "127.0.0.2:54322", "127.0.0.3:18444",
		"0d0a0d0a000d0a515549540a" + "2111000c" + "7f000002" + "7f000003" + "d432" + "480c"},
	{"v1 tcp6", 1, "[::1]:54323", "[::1]:18445",
		hex.EncodeToString([]byte("PROXY TCP6 ::1 ::1 54323 18445\r\n"))},
	{"v2 tcp6", 2, "[::1]:54324", "[::1]:18446",
		"0d0a0d0a000d0a515549540a" + "21210024" +
			"00000000000000000000000000000001" + "00000000000000000000000000000001" + "d434" + "480e"},
}

const haproxyLocalV2 = "0d0a0d0a000d0a515549540a" + "20000000"

func TestAppendMatchesHAProxyBytes(t *testing.T) {
	for _, g := range haproxyGolden {
		t.Run(g.name, func(t *testing.T) {
			want, _ := hex.DecodeString(g.hex)
			src, dst := netip.MustParseAddrPort(g.src), netip.MustParseAddrPort(g.dst)
			var got []byte
			if g.v == 1 {
				got = AppendV1(nil, src, dst)
			} else {
				var err error
				if got, err = AppendV2(nil, src, dst); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got  %x\nwant %x", got, want)
			}
			h, n, err := Parse(append(want, "hello"...))
			if err != nil || n != len(want) {
				t.Fatalf("Parse = n %d, err %v; want n %d", n, err, len(want))
			}
			if h.Version != g.v || h.Command != CommandProxy || h.Protocol != ProtocolStream || h.Src != src || h.Dst != dst || !h.Proxied() {
				t.Fatalf("Parse = %+v", h)
			}
		})
	}
	t.Run("v2 local", func(t *testing.T) {
		want, _ := hex.DecodeString(haproxyLocalV2)
		got, err := AppendV2Local(nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %x, %v; want %x", got, err, want)
		}
		// An invalid address pair gives LOCAL too, as in haproxy.
		got, _ = AppendV2(nil, netip.AddrPort{}, netip.MustParseAddrPort("1.2.3.4:80"))
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendV2 without source = %x; want %x", got, want)
		}
		h, n, err := Parse(want)
		if err != nil || n != 16 || h.Command != CommandLocal || h.Proxied() {
			t.Fatalf("Parse = %+v, %d, %v", h, n, err)
		}
	})
}

func TestAppendFamilies(t *testing.T) {
	ap := netip.MustParseAddrPort
	cases := []struct {
		name     string
		src, dst netip.AddrPort
		v1       string
		v2fam    byte
	}{
		{"mapped both unmapped to TCP4", ap("[::ffff:10.0.0.1]:1000"), ap("[::ffff:10.0.0.2]:80"),
			"PROXY TCP4 10.0.0.1 10.0.0.2 1000 80\r\n", 0x11},
		{"mixed maps v4 into v6", ap("10.0.0.1:1000"), ap("[2001:db8::1]:443"),
			"PROXY TCP6 ::ffff:10.0.0.1 2001:db8::1 1000 443\r\n", 0x21},
		{"zone dropped", ap("[fe80::1%eth0]:1"), ap("[fe80::2%eth0]:2"),
			"PROXY TCP6 fe80::1 fe80::2 1 2\r\n", 0x21},
		{"extremes", ap("0.0.0.0:0"), ap("255.255.255.255:65535"),
			"PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", 0x11},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(AppendV1(nil, c.src, c.dst)); got != c.v1 {
				t.Fatalf("AppendV1 = %q; want %q", got, c.v1)
			}
			h1, _, err := Parse([]byte(c.v1))
			if err != nil {
				t.Fatal(err)
			}
			b, err := AppendV2(nil, c.src, c.dst)
			if err != nil {
				t.Fatal(err)
			}
			if b[13] != c.v2fam {
				t.Fatalf("v2 family byte %#x; want %#x", b[13], c.v2fam)
			}
			h2, _, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if h1.Src != h2.Src || h1.Dst != h2.Dst || h1.Family != h2.Family {
				t.Fatalf("v1 %+v and v2 %+v disagree", h1, h2)
			}
		})
	}
	if got := string(AppendV1([]byte("x"), netip.AddrPort{}, netip.AddrPort{})); got != "xPROXY UNKNOWN\r\n" {
		t.Fatalf("AppendV1 invalid = %q", got)
	}
}

func TestAppendV2TLVs(t *testing.T) {
	src, dst := netip.MustParseAddrPort("192.0.2.1:5000"), netip.MustParseAddrPort("192.0.2.2:443")
	b, err := AppendV2(nil, src, dst, TLV{TLVALPN, []byte("h2")}, TLV{TLVAuthority, []byte("example.com")}, TLV{TLVNoop, nil})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString("0d0a0d0a000d0a515549540a" + "2111" + "0022" + "c0000201c0000202" + "1388" + "01bb" +
		"010002" + "6832" + "02000b" + hex.EncodeToString([]byte("example.com")) + "040000")
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
	h, _, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := h.TLV(TLVAuthority); !ok || string(v) != "example.com" || len(h.TLVs) != 3 {
		t.Fatalf("TLVs = %+v", h.TLVs)
	}
	if _, err := AppendV2([]byte("keep"), src, dst, TLV{1, make([]byte, 0x10000)}); err == nil {
		t.Fatal("oversized TLV accepted")
	}
	out, err := AppendV2([]byte("keep"), src, dst, TLV{1, make([]byte, 0xfff0)}, TLV{2, make([]byte, 0x100)})
	if err == nil || string(out) != "keep" {
		t.Fatalf("oversized header: %q, %v", out, err)
	}
}
