package stick

import (
	"net/netip"
	"testing"
)

func TestAddrKey(t *testing.T) {
	clk := newFakeClock()
	ip := newTable(t, "type ip size 10", clk)
	ip6 := newTable(t, "type ipv6 size 10", clk)

	k1, ok1 := ip.AddrKey(netip.MustParseAddr("1.2.3.4"))
	k2, ok2 := ip.AddrKey(netip.MustParseAddr("::ffff:1.2.3.4"))
	if !ok1 || !ok2 || k1 != k2 {
		t.Errorf("ip table: IPv4 and IPv4-mapped keys differ: %v %v", k1, k2)
	}
	if _, ok := ip.AddrKey(netip.MustParseAddr("2001:db8::1")); ok {
		t.Error("ip table accepted an IPv6 address")
	}
	if _, ok := ip.AddrKey(netip.Addr{}); ok {
		t.Error("ip table accepted the zero address")
	}
	k3, _ := ip6.AddrKey(netip.MustParseAddr("1.2.3.4"))
	k4, _ := ip6.AddrKey(netip.MustParseAddr("::ffff:1.2.3.4"))
	if k3 != k4 || ip6.FormatKey(k3) != "::ffff:1.2.3.4" {
		t.Errorf("ipv6 table: IPv4 should be stored mapped: %q %q", ip6.FormatKey(k3), ip6.FormatKey(k4))
	}
}

func TestParseFormatKey(t *testing.T) {
	clk := newFakeClock()
	tests := []struct {
		def, in, want string
		err           bool
	}{
		{def: "type ip size 1", in: "1.2.3.4", want: "1.2.3.4"},
		{def: "type ip size 1", in: "::ffff:10.0.0.1", want: "10.0.0.1"},
		{def: "type ip size 1", in: "::1", err: true},
		{def: "type ip size 1", in: "1.2.3", err: true},
		{def: "type ip size 1", in: "fe80::1%eth0", err: true},
		{def: "type ipv6 size 1", in: "2001:DB8::1", want: "2001:db8::1"},
		{def: "type ipv6 size 1", in: "10.0.0.1", want: "::ffff:10.0.0.1"},
		{def: "type ipv6 size 1", in: "zz", err: true},
		{def: "type integer size 1", in: "42", want: "42"},
		{def: "type integer size 1", in: "4294967295", want: "4294967295"},
		{def: "type integer size 1", in: "4294967296", err: true},
		{def: "type integer size 1", in: "-1", err: true},
		{def: "type integer size 1", in: "x", err: true},
		{def: "type string len 8 size 1", in: "abcdefghijkl", want: "abcdefgh"},
		{def: "type string size 1", in: "a b=c\\d\x01", want: `a\ b\=c\\d\x01`},
		{def: "type binary len 4 size 1", in: "0a0b", want: "0a0b0000"},
		{def: "type binary len 4 size 1", in: "0a0b0c0d0e", want: "0a0b0c0d"},
		{def: "type binary len 4 size 1", in: "0g", err: true},
	}
	for _, tc := range tests {
		tb := newTable(t, tc.def, clk)
		k, err := tb.ParseKey(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("%s: ParseKey(%q) accepted", tc.def, tc.in)
			} else if err.Error() != "Invalid key" {
				t.Errorf("%s: ParseKey(%q) error %q, want HAProxy's \"Invalid key\"", tc.def, tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: ParseKey(%q): %v", tc.def, tc.in, err)
			continue
		}
		if got := tb.FormatKey(k); got != tc.want {
			t.Errorf("%s: key %q shows as %q, want %q", tc.def, tc.in, got, tc.want)
		}
	}
}

func TestKeyOrder(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type integer size 10", clk)
	if compareKeys(ptr(tb.IntKey(2)), ptr(tb.IntKey(256))) >= 0 {
		t.Error("integer keys must sort numerically")
	}
	ip := newTable(t, "type ip size 10", clk)
	if compareKeys(ptr(ipKey(t, ip, "1.1.1.2")), ptr(ipKey(t, ip, "1.2.3.4"))) >= 0 {
		t.Error("ip keys must sort numerically")
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzParseKey(f *testing.F) {
	defs := []string{"type ip size 1", "type ipv6 size 1", "type integer size 1", "type string len 6 size 1", "type binary len 3 size 1"}
	for i, s := range []string{"1.2.3.4", "::1", "42", "hello world", "0a0b"} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, in string) {
		tb := New("f", mustDef(t, defs[int(which)%len(defs)]), Options{Shards: 1})
		k, err := tb.ParseKey(in)
		if err != nil {
			return
		}
		if !tb.validKey(&k) {
			t.Fatalf("ParseKey(%q) built an invalid key", in)
		}
		// Shown keys of fixed and binary types parse back to the same key.
		if tb.def.Type != TypeString {
			k2, err := tb.ParseKey(tb.FormatKey(k))
			if err != nil || k2 != k {
				t.Fatalf("%q -> %q -> %v, %v", in, tb.FormatKey(k), k2, err)
			}
		}
		e, err := tb.GetOrCreate(k)
		if err != nil || tb.Lookup(k) != e {
			t.Fatalf("entry for %q not found back", in)
		}
	})
}
