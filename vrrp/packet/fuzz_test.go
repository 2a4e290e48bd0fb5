package packet

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"net/netip"
	"testing"
)

func hmacSHA1(key, msg []byte) [20]byte {
	m := hmac.New(sha1.New, key)
	m.Write(msg)
	var out [20]byte
	copy(out[:], m.Sum(nil))
	return out
}

// FuzzVRRP: decoding never panics, and whatever decodes re-encodes to a packet that
// decodes to the same advertisement (reserved bits are ignored on receive, so bytes may
// differ there and in the checksum).
func FuzzVRRP(f *testing.F) {
	for _, v := range []VRRP{
		{Version: 2, VRID: 1, Priority: 100, Interval: 1, Addresses: []netip.Addr{vip4}},
		{Version: 3, VRID: 2, Priority: 255, Interval: 100, Addresses: []netip.Addr{vip4, vip4}},
	} {
		b, _ := MarshalVRRP(&v, src4, GroupV4, Options{})
		f.Add(b, false)
	}
	v6, _ := MarshalVRRP(&VRRP{Version: 3, VRID: 3, Priority: 10, Interval: 5, Addresses: []netip.Addr{vip6}}, src6, GroupV6, Options{})
	f.Add(v6, true)
	f.Fuzz(func(t *testing.T, b []byte, six bool) {
		src, dst := src4, GroupV4
		if six {
			src, dst = src6, GroupV6
		}
		v, err := UnmarshalVRRP(b, src, dst, Options{})
		if err != nil {
			return
		}
		out, err := MarshalVRRP(v, src, dst, Options{})
		if err != nil {
			t.Fatalf("decoded packet does not re-encode: %v", err)
		}
		v2, err := UnmarshalVRRP(out, src, dst, Options{})
		if err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if !bytes.Equal(out[8:], b[8:]) || v2.Interval != v.Interval || v2.Priority != v.Priority || v2.VRID != v.VRID {
			t.Fatalf("re-encode differs\n in %x\nout %x", b, out)
		}
	})
}

func FuzzCARP(f *testing.F) {
	f.Add(MarshalCARP(&CARP{VHID: 4, AdvBase: 1, AdvSkew: 100}, []byte("pw"), []netip.Addr{vip4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalCARP(b)
		if err != nil {
			return
		}
		// Re-encoding recomputes the digest, so compare everything but it.
		md := c.MD
		out := MarshalCARP(c, []byte("pw"), []netip.Addr{vip4})
		if !bytes.Equal(out[:6], b[:6]) || !bytes.Equal(out[8:16], b[8:16]) {
			t.Fatalf("re-encode differs\n in %x\nout %x", b, out)
		}
		_ = VerifyCARP(&CARP{VHID: c.VHID, Counter: c.Counter, MD: md}, []byte("pw"), nil)
	})
}
