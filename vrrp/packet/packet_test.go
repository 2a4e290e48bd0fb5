package packet

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
)

var (
	src4 = netip.MustParseAddr("192.168.0.2")
	vip4 = netip.MustParseAddr("192.168.0.1")
	src6 = netip.MustParseAddr("fe80::1")
	vip6 = netip.MustParseAddr("2001:db8::1")
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Golden bytes were summed by hand (RFC 1071), independently of the code under test.
func TestVRRPGolden(t *testing.T) {
	cases := []struct {
		name string
		v    VRRP
		src  netip.Addr
		dst  netip.Addr
		want string
	}{
		{"v2 no auth", VRRP{Version: 2, VRID: 1, Priority: 100, Interval: 1, Addresses: []netip.Addr{vip4}},
			src4, GroupV4, "21016401000 1ba52c0a80001 0000000000000000"},
		{"v3 ipv4 pseudo-header", VRRP{Version: 3, VRID: 1, Priority: 100, Interval: 100, Addresses: []netip.Addr{vip4}},
			src4, GroupV4, "31016401 006408b6 c0a80001"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := unhex(t, removeSpaces(c.want))
			got, err := MarshalVRRP(&c.v, c.src, c.dst, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("marshal\n got %x\nwant %x", got, want)
			}
			back, err := UnmarshalVRRP(want, c.src, c.dst, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if back.VRID != c.v.VRID || back.Priority != c.v.Priority || back.Interval != c.v.Interval || back.Addresses[0] != vip4 {
				t.Fatalf("unmarshal: %+v", back)
			}
		})
	}
}

func removeSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

func TestVRRPRoundTrip(t *testing.T) {
	cases := []struct {
		v        VRRP
		src, dst netip.Addr
		opt      Options
	}{
		{VRRP{Version: 2, VRID: 51, Priority: 254, Interval: 3, AuthType: AuthSimple, AuthData: SimpleAuth("secret12345"),
			Addresses: []netip.Addr{vip4, netip.MustParseAddr("10.0.0.9")}}, src4, GroupV4, Options{}},
		{VRRP{Version: 3, VRID: 255, Priority: 1, Interval: 4095, Addresses: []netip.Addr{vip4}}, src4, GroupV4, Options{V3ChecksumAsV2: true}},
		{VRRP{Version: 3, VRID: 7, Priority: 0, Interval: 10, Addresses: []netip.Addr{vip6, netip.MustParseAddr("fe80::99")}}, src6, GroupV6, Options{}},
		{VRRP{Version: 3, VRID: 8, Priority: 200, Interval: 100}, src4, netip.MustParseAddr("198.18.0.7"), Options{}},
	}
	for _, c := range cases {
		b, err := MarshalVRRP(&c.v, c.src, c.dst, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalVRRP(b, c.src, c.dst, c.opt)
		if err != nil {
			t.Fatalf("%+v: %v", c.v, err)
		}
		if got.Version != c.v.Version || got.VRID != c.v.VRID || got.Priority != c.v.Priority ||
			got.Interval != c.v.Interval || got.AuthType != c.v.AuthType || got.AuthData != c.v.AuthData ||
			len(got.Addresses) != len(c.v.Addresses) {
			t.Fatalf("round trip: got %+v want %+v", got, c.v)
		}
		for i := range got.Addresses {
			if got.Addresses[i] != c.v.Addresses[i] {
				t.Fatalf("address %d: %v != %v", i, got.Addresses[i], c.v.Addresses[i])
			}
		}
	}
}

func TestVRRPRejects(t *testing.T) {
	good, _ := MarshalVRRP(&VRRP{Version: 3, VRID: 1, Priority: 100, Interval: 100, Addresses: []netip.Addr{vip4}}, src4, GroupV4, Options{})
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name string
		b    []byte
		src  netip.Addr
		opt  Options
		want error
	}{
		{"short", good[:7], src4, Options{}, ErrShort},
		{"version 4", mut(func(b []byte) []byte { b[0] = 0x41; return b }), src4, Options{}, ErrVersion},
		{"type 2", mut(func(b []byte) []byte { b[0] = 0x32; return b }), src4, Options{}, ErrType},
		{"count too big", mut(func(b []byte) []byte { b[3] = 2; return b }), src4, Options{}, ErrLength},
		{"trailing byte", mut(func(b []byte) []byte { return append(b, 0) }), src4, Options{}, ErrLength},
		{"bad checksum", mut(func(b []byte) []byte { b[7] ^= 1; return b }), src4, Options{}, ErrChecksum},
		{"other source", good, netip.MustParseAddr("192.168.0.3"), Options{}, ErrChecksum},
		{"v2-style checksum expected", good, src4, Options{V3ChecksumAsV2: true}, ErrChecksum},
		{"v2 over ipv6", mut(func(b []byte) []byte { b[0] = 0x21; return b }), src6, Options{}, ErrAddrFamily},
	}
	for _, c := range cases {
		if _, err := UnmarshalVRRP(c.b, c.src, GroupV4, c.opt); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v want %v", c.name, err, c.want)
		}
	}
	zero, _ := MarshalVRRP(&VRRP{Version: 3, VRID: 1, Priority: 100, Interval: 0, Addresses: []netip.Addr{vip4}}, src4, GroupV4, Options{})
	if _, err := UnmarshalVRRP(zero, src4, GroupV4, Options{}); !errors.Is(err, ErrInterval) {
		t.Errorf("zero interval: %v", err)
	}
	if _, err := MarshalVRRP(&VRRP{Version: 2, Addresses: []netip.Addr{vip6}}, src6, GroupV6, Options{}); !errors.Is(err, ErrAddrFamily) {
		t.Errorf("v2 with IPv6 address: %v", err)
	}
}

func TestVRRPAuth(t *testing.T) {
	v := &VRRP{Version: 2, AuthType: AuthSimple, AuthData: SimpleAuth("pass")}
	if err := CheckAuth(v, AuthSimple, SimpleAuth("pass")); err != nil {
		t.Fatal(err)
	}
	if err := CheckAuth(v, AuthSimple, SimpleAuth("Pass")); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password accepted: %v", err)
	}
	if err := CheckAuth(v, AuthNone, [8]byte{}); !errors.Is(err, ErrAuthType) {
		t.Fatalf("type mismatch accepted: %v", err)
	}
	// Only 8 bytes are on the wire: longer passwords agree on their prefix, as in keepalived.
	if SimpleAuth("12345678XYZ") != SimpleAuth("12345678") {
		t.Fatal("password not truncated to 8 bytes")
	}
}

func TestCARPRoundTrip(t *testing.T) {
	key := CARPKey("passwd4")
	addrs := []netip.Addr{netip.MustParseAddr("10.2.2.4"), netip.MustParseAddr("10.2.2.3")}
	c := &CARP{VHID: 4, AdvSkew: 100, AdvBase: 1, Demote: 3, Counter: 0x0102030405060708}
	b := MarshalCARP(c, key, addrs)
	if len(b) != CARPLen || !IsCARP(b) {
		t.Fatalf("bad length or kind: %x", b)
	}
	if Checksum(b) != 0 {
		t.Fatal("checksum does not verify")
	}
	got, err := UnmarshalCARP(b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *c {
		t.Fatalf("round trip: %+v != %+v", got, c)
	}
	// Address order must not matter (carp(4) sorts them).
	if err := VerifyCARP(got, key, []netip.Addr{addrs[1], addrs[0]}); err != nil {
		t.Fatal(err)
	}
	if err := VerifyCARP(got, CARPKey("passwd44"), addrs); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong key accepted: %v", err)
	}
	if err := VerifyCARP(got, key, addrs[:1]); !errors.Is(err, ErrAuth) {
		t.Fatalf("different address set accepted: %v", err)
	}
	// Replayed digest with another counter fails.
	got.Counter++
	if err := VerifyCARP(got, key, addrs); !errors.Is(err, ErrAuth) {
		t.Fatalf("counter not covered: %v", err)
	}
	bad := bytes.Clone(b)
	bad[2] ^= 0xff
	if _, err := UnmarshalCARP(bad); !errors.Is(err, ErrChecksum) {
		t.Fatalf("checksum: %v", err)
	}
	if _, err := UnmarshalCARP(b[:20]); !errors.Is(err, ErrShort) {
		t.Fatalf("short: %v", err)
	}
	v2, _ := MarshalVRRP(&VRRP{Version: 2, VRID: 4, Priority: 100, Interval: 1,
		Addresses: []netip.Addr{vip4, vip4, vip4, vip4, vip4}}, src4, GroupV4, Options{})
	if len(v2) != CARPLen || IsCARP(v2) {
		t.Fatal("36-byte VRRPv2 packet taken for CARP")
	}
}

// The digest is HMAC-SHA1 over version, type, vhid, sorted addresses and counter; this
// pins the exact message layout by hashing a hand-built message.
func TestCARPDigestLayout(t *testing.T) {
	key := []byte("k")
	msg := []byte{2, 1, 9, 10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5}
	want := hmacSHA1(key, msg)
	got := CARPDigest(key, 9, []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1")}, 5)
	if got != want {
		t.Fatalf("digest %x want %x", got, want)
	}
}
