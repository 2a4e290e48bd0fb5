package vrrp

import (
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"appl/internal/testbed"
	"appl/vrrp/packet"
)

// rawSender sends hand-made protocol 112 packets from inside a host.
type rawSender struct {
	r   *ipv4.RawConn
	src netip.Addr
}

func newRawSender(t *testing.T, h *testbed.Host, src string) *rawSender {
	t.Helper()
	var r *ipv4.RawConn
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err := net.ListenPacket("ip4:112", "0.0.0.0")
		if err != nil {
			return err
		}
		if r, err = ipv4.NewRawConn(c); err != nil {
			return err
		}
		return r.SetMulticastInterface(ifi)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &rawSender{r: r, src: mustAddr(src)}
}

func (s *rawSender) send(t *testing.T, ttl int, b []byte) {
	t.Helper()
	h := &ipv4.Header{Version: 4, Len: 20, TotalLen: 20 + len(b), TTL: ttl, Protocol: 112,
		Src: s.src.AsSlice(), Dst: packet.GroupV4.AsSlice()}
	if err := s.r.WriteTo(h, b, nil); err != nil {
		t.Fatal(err)
	}
}

// Malformed packets, wrong TTL, wrong checksum, wrong version, wrong authentication and
// unknown VRIDs are dropped and counted and never acted on, though each would make the
// master step down if it were accepted; the same advert made valid then does.
func TestMalformedPacketsDroppedAndCounted(t *testing.T) {
	p := newPairBed(t)
	w1 := watchAddrs(t, p.n[0], "eth0")
	conf := vrrpConf("VI", 150, "version 3", "advert-int 100ms") +
		"vrrp AUTH\n    interface eth0\n    vrid 52\n    priority 150\n    auth-pass right\n    address 198.18.1.101/24\n"
	s1 := startInproc(t, p.n[0], conf)
	testbed.Eventually(t, 6*time.Second, 10*time.Millisecond, "n1 master of both", func() bool {
		return s1.state("VI") == "MASTER" && s1.state("AUTH") == "MASTER"
	})
	src := "198.18.1.2"
	snd := newRawSender(t, p.n[1], src)
	vips := []netip.Addr{mustAddr(vip)}
	v3 := func(vrid uint8, prio uint8) []byte {
		b, err := packet.MarshalVRRP(&packet.VRRP{Version: 3, VRID: vrid, Priority: prio, Interval: 10, Addresses: vips},
			mustAddr(src), packet.GroupV4, packet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v2 := func(pass string) []byte {
		b, err := packet.MarshalVRRP(&packet.VRRP{Version: 2, VRID: 52, Priority: 254, Interval: 1, AuthType: packet.AuthSimple,
			AuthData: packet.SimpleAuth(pass), Addresses: []netip.Addr{mustAddr("198.18.1.101")}}, mustAddr(src), packet.GroupV4, packet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := v3(51, 254)
	badSum := append([]byte(nil), good...)
	badSum[7] ^= 0xff
	v2for3 := v3(51, 254)
	v2for3[0] = 0x21 // version 2 header on a v3 instance (checksum now wrong too: fix it)
	fixed, _ := packet.MarshalVRRP(&packet.VRRP{Version: 2, VRID: 51, Priority: 254, Interval: 1, Addresses: vips}, mustAddr(src), packet.GroupV4, packet.Options{})
	const n = 5
	for range n {
		snd.send(t, 64, good)                 // wrong TTL
		snd.send(t, 255, badSum)              // wrong checksum
		snd.send(t, 255, fixed)               // VRRPv2 for a v3 instance
		snd.send(t, 255, v3(99, 254))         // unknown VRID
		snd.send(t, 255, good[:5])            // truncated
		snd.send(t, 255, append(good, 0, 0))  // length does not match count
		snd.send(t, 255, v2("wrong"))         // wrong password
		snd.send(t, 255, []byte{0x31, 51, 0}) // garbage
	}
	var c Counters
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "all drops counted", func() bool {
		c = s1.sp.Counters()
		return c.BadTTL >= n && c.BadChecksum >= n && c.BadVersion >= n && c.UnknownID >= n && c.BadLength >= 3*n && c.BadAuth >= n
	})
	t.Logf("counters after %d rounds of bad packets: %+v", n, c)
	if c.RxAdverts != 0 {
		t.Fatalf("a bad packet was accepted: %+v", c)
	}
	if s1.state("VI") != "MASTER" || s1.state("AUTH") != "MASTER" {
		t.Fatal("a dropped packet changed state")
	}
	if h, _ := w1.has(vip); !h {
		t.Fatal("VIP lost")
	}
	// A lower advert whose VIP list differs (config drift) is counted, logged and acted
	// on: the master answers it and stays master (keepalived #1515, #166).
	drift, _ := packet.MarshalVRRP(&packet.VRRP{Version: 3, VRID: 51, Priority: 10, Interval: 10, Addresses: []netip.Addr{mustAddr("198.18.1.199")}},
		mustAddr(src), packet.GroupV4, packet.Options{})
	tx := s1.sp.Counters().TxAdverts
	snd.send(t, 255, drift)
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "drifted advert counted and answered", func() bool {
		c := s1.sp.Counters()
		return c.AddressMismatch == 1 && c.RxAdverts == 1 && c.TxAdverts > tx
	})
	if s1.state("VI") != "MASTER" {
		t.Fatal("lower drifted advert changed state")
	}
	// Positive control: the same adverts, valid, do make the master step down.
	snd.send(t, 255, good)
	snd.send(t, 255, v2("right"))
	testbed.Eventually(t, time.Second, 5*time.Millisecond, "valid higher adverts acted on", func() bool {
		return s1.state("VI") == "BACKUP" && s1.state("AUTH") == "BACKUP"
	})
}

// 100 alternating failovers (admin demotion, nopreempt) end with exactly one VIP owner;
// the client polling the VIP is never without an answer for long.
func TestHundredAlternatingFailovers(t *testing.T) {
	p := newPairBed(t)
	fig := &figures{t: t}
	defer fig.print()
	w := []*addrWatch{watchAddrs(t, p.n[0], "eth0"), watchAddrs(t, p.n[1], "eth0")}
	dual := sampleDual(t, w[0], w[1], vip)
	cl := pollVIP(t, p.client, vip)
	conf := vrrpConf("VI", 100, "version 3", "advert-int 100ms", "nopreempt")
	s := []*inproc{startInproc(t, p.n[0], conf), startInproc(t, p.n[1], conf)}
	events, unsub := s[1].sp.Subscribe()
	var masters atomic.Int64
	go func() {
		for ev := range events {
			if ev.To == "MASTER" {
				masters.Add(1)
			}
		}
	}()
	var cur int
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "a master", func() bool {
		for i := range s {
			if h, _ := w[i].has(vip); h && s[i].state("VI") == "MASTER" {
				cur = i
				return true
			}
		}
		return false
	})
	cl.waitServed(t, p.n[cur].Name, time.Now(), 2*time.Second)
	const rounds = 100
	start := time.Now()
	var worst time.Duration
	var lat []time.Duration
	for i := range rounds {
		if time.Since(start) > 90*time.Second {
			t.Fatalf("loop bound: only %d failovers in 90s", i)
		}
		o := 1 - cur
		t0 := time.Now()
		if err := s[cur].sp.Demote("", true); err != nil {
			t.Fatal(err)
		}
		testbed.Eventually(t, 2*time.Second, 2*time.Millisecond, "peer takes over", func() bool {
			ho, _ := w[o].has(vip)
			hc, _ := w[cur].has(vip)
			return ho && !hc && s[o].state("VI") == "MASTER"
		})
		served := cl.waitServed(t, p.n[o].Name, t0, 3*time.Second)
		lat = append(lat, served)
		worst = max(worst, served)
		if err := s[cur].sp.Demote("", false); err != nil {
			t.Fatal(err)
		}
		cur = o
	}
	took := time.Since(start)
	// Exactly one owner at the end, and it is the last one promoted.
	h0, _ := w[0].has(vip)
	h1, _ := w[1].has(vip)
	if h0 == h1 || (cur == 0) != h0 {
		t.Fatalf("end state: n1 has VIP %v, n2 has VIP %v, expected n%d", h0, h1, cur+1)
	}
	cl.waitServed(t, p.n[cur].Name, time.Now(), 2*time.Second)
	dual.end()
	// Largest silence seen by the client during the loop.
	cl.mu.Lock()
	var gap time.Duration
	for i := 1; i < len(cl.answers); i++ {
		if a := cl.answers[i]; cl.answers[i-1].at.After(start) {
			gap = max(gap, a.at.Sub(cl.answers[i-1].at))
		}
	}
	cl.mu.Unlock()
	unsub()
	slices.Sort(lat)
	fig.add("%d alternating failovers in %v; client served by the new master after median %v, p90 %v, worst %v; longest silence %v, dual-master samples %d of %d, n2 MASTER events %d",
		rounds, took.Round(time.Millisecond), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), worst.Round(time.Millisecond), gap.Round(time.Millisecond), dual.dual.Load(), dual.samples.Load(), masters.Load())
	if dual.dual.Load() != 0 {
		t.Errorf("%d dual-master samples", dual.dual.Load())
	}
	if m := masters.Load(); m < rounds/2-1 {
		t.Errorf("only %d MASTER events on n2 for %d failovers", m, rounds)
	}
	if gap > time.Second {
		t.Errorf("client went %v without an answer", gap)
	}
}
