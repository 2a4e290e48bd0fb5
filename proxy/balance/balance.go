package balance

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
)

// Pool describes the candidate servers of one pick. Index i is stable for the life of a
// Picker (the declaration order of the servers in the backend).
type Pool interface {
	Len() int
	// Usable reports whether server i may take a connection now (up, not in maintenance,
	// below its maxconn).
	Usable(i int) bool
	// Weight is server i's effective weight now (slowstart ramps it); 0 excludes it.
	Weight(i int) int
	// Load is server i's current number of connections (leastconn, random).
	Load(i int) int
}

// Picker chooses a server. Implementations keep state (round-robin position); calls must
// be serialised by the caller. Pick returns -1 when no server is usable.
type Picker interface {
	Pick(p Pool, key uint64) int
}

// New returns the picker for an algorithm as written after `balance`. weights are the
// configured weights, used by the algorithms that precompute (static-rr, consistent).
func New(algo, hashType string, weights []int) (Picker, error) {
	switch algo {
	case "", "roundrobin":
		return &roundRobin{}, nil
	case "static-rr":
		return newStaticRR(weights), nil
	case "leastconn":
		return &leastConn{}, nil
	case "first":
		return first{}, nil
	case "source", "uri", "url_param", "hdr", "rdp-cookie", "hash":
		// The L7 algorithms hash bytes of the request (KeyBytes) where source hashes
		// the client address (KeyAddr): the mapping onto servers is the same.
		switch hashType {
		case "", "map-based":
			return mapBased{}, nil
		case "consistent":
			return newConsistent(weights), nil
		}
		return nil, fmt.Errorf("balance %s: unsupported hash-type %q (expected map-based or consistent)", algo, hashType)
	case "random":
		return &random{draws: 2}, nil
	}
	return nil, fmt.Errorf("balance %q is not supported (expected roundrobin, static-rr, leastconn, first, source, random, uri, url_param, hdr, rdp-cookie or hash)", algo)
}

// Hashed reports whether algo picks by a key (KeyAddr or KeyBytes). When a request has
// no key for an L7 algorithm (no such parameter, header or cookie), HAProxy falls back
// to round robin: the caller keeps a roundrobin Picker for that.
func Hashed(algo string) bool {
	switch algo {
	case "source", "uri", "url_param", "hdr", "rdp-cookie", "hash":
		return true
	}
	return false
}

// KeyBytes hashes request bytes (uri, url_param, hdr(), rdp-cookie, hash EXPR) into a
// key for the hashing pickers. It does not allocate and does not keep b.
func KeyBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

// KeyAddr hashes a client address for the source algorithm. The hash mixes every bit so
// that nearby addresses spread over the servers.
func KeyAddr(a netip.Addr) uint64 {
	a = a.Unmap()
	b := a.As16()
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

// mix is the splitmix64 finaliser: every input bit affects every output bit.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// roundRobin is the smooth weighted round robin (as nginx's): each pick adds every usable
// server's weight to its credit, takes the highest credit and charges it the total. Picks
// interleave (a,a,b with weights 2,1 gives a,b,a) and weights may change between picks,
// which slowstart needs.
type roundRobin struct {
	credit []int
}

func (r *roundRobin) Pick(p Pool, _ uint64) int {
	n := p.Len()
	if len(r.credit) != n {
		r.credit = make([]int, n)
	}
	best, total := -1, 0
	for i := 0; i < n; i++ {
		if !p.Usable(i) {
			continue
		}
		w := p.Weight(i)
		if w <= 0 {
			continue
		}
		r.credit[i] += w
		total += w
		if best < 0 || r.credit[i] > r.credit[best] {
			best = i
		}
	}
	if best >= 0 {
		r.credit[best] -= total
	}
	return best
}

// staticRR walks a precomputed weighted sequence; weight changes need a new picker, as in
// HAProxy where static-rr weights are fixed at start.
type staticRR struct {
	seq []int
	pos int
}

func newStaticRR(weights []int) *staticRR {
	var rr roundRobin
	total := 0
	for _, w := range weights {
		total += w
	}
	s := &staticRR{}
	p := staticPool(weights)
	for i := 0; i < total; i++ {
		s.seq = append(s.seq, rr.Pick(p, 0))
	}
	return s
}

type staticPool []int

func (s staticPool) Len() int          { return len(s) }
func (s staticPool) Usable(i int) bool { return s[i] > 0 }
func (s staticPool) Weight(i int) int  { return s[i] }
func (s staticPool) Load(int) int      { return 0 }

func (s *staticRR) Pick(p Pool, _ uint64) int {
	for k := 0; k < len(s.seq); k++ {
		i := s.seq[s.pos]
		s.pos = (s.pos + 1) % len(s.seq)
		if i < p.Len() && p.Usable(i) && p.Weight(i) > 0 {
			return i
		}
	}
	return -1
}

// leastConn takes the usable server with the lowest load/weight ratio; among equals it
// rotates, so that idle servers share short connections as HAProxy's does.
type leastConn struct {
	next int
}

func (l *leastConn) Pick(p Pool, _ uint64) int {
	n := p.Len()
	best := -1
	var bl, bw int
	for k := 0; k < n; k++ {
		i := (l.next + k) % n
		if !p.Usable(i) {
			continue
		}
		w := p.Weight(i)
		if w <= 0 {
			continue
		}
		ld := p.Load(i)
		// ld/w < bl/bw, compared without division. Ties favour the heavier weight, then
		// the rotation order.
		if best < 0 || ld*bw < bl*w || (ld*bw == bl*w && w > bw) {
			best, bl, bw = i, ld, w
		}
	}
	if best >= 0 {
		l.next = (best + 1) % n
	}
	return best
}

// first takes the first usable server in declaration order: servers fill up to their
// maxconn one after the other, so that idle servers can be powered off.
type first struct{}

func (first) Pick(p Pool, _ uint64) int {
	for i := 0; i < p.Len(); i++ {
		if p.Usable(i) && p.Weight(i) > 0 {
			return i
		}
	}
	return -1
}

// mapBased maps the key onto the usable servers, each owning a share of the key space
// proportional to its weight. A change in the usable set remaps most keys (HAProxy's
// map-based has the same property; consistent does not).
type mapBased struct{}

func (mapBased) Pick(p Pool, key uint64) int {
	total := 0
	for i := 0; i < p.Len(); i++ {
		if p.Usable(i) {
			total += max(p.Weight(i), 0)
		}
	}
	if total == 0 {
		return -1
	}
	k := int(key % uint64(total))
	for i := 0; i < p.Len(); i++ {
		if !p.Usable(i) {
			continue
		}
		w := max(p.Weight(i), 0)
		if k < w {
			return i
		}
		k -= w
	}
	return -1
}

// pointsPerWeight is how many ring points a unit of weight gets. More points follow the
// weights more closely at the cost of memory (8 bytes a point).
const pointsPerWeight = 64

type point struct {
	hash uint64
	srv  int32
}

// consistent is a hash ring: each server owns weight*pointsPerWeight points; a key goes to
// the first point clockwise whose server is usable, so a server going down moves only its
// own keys.
type consistent struct {
	ring []point
}

func newConsistent(weights []int) *consistent {
	c := &consistent{}
	for i, w := range weights {
		for j := 0; j < w*pointsPerWeight; j++ {
			c.ring = append(c.ring, point{hash: mix(uint64(i)<<32 | uint64(j) + 0x9e3779b97f4a7c15), srv: int32(i)})
		}
	}
	sort.Slice(c.ring, func(a, b int) bool { return c.ring[a].hash < c.ring[b].hash })
	return c
}

func (c *consistent) Pick(p Pool, key uint64) int {
	if len(c.ring) == 0 {
		return -1
	}
	start := sort.Search(len(c.ring), func(i int) bool { return c.ring[i].hash >= key })
	for k := 0; k < len(c.ring); k++ {
		pt := c.ring[(start+k)%len(c.ring)]
		i := int(pt.srv)
		if i < p.Len() && p.Usable(i) && p.Weight(i) > 0 {
			return i
		}
		if k > 4096 {
			// Far from any usable point: every nearby server is down. Fall back to a
			// weighted map rather than walk the whole ring under the caller's lock.
			return mapBased{}.Pick(p, key)
		}
	}
	return -1
}

// random draws servers at random in proportion to their weight and keeps the least
// loaded of `draws` draws (HAProxy's `random(2)`, the power of two choices).
type random struct {
	draws int
}

func (r *random) Pick(p Pool, _ uint64) int {
	total := 0
	for i := 0; i < p.Len(); i++ {
		if p.Usable(i) {
			total += max(p.Weight(i), 0)
		}
	}
	if total == 0 {
		return -1
	}
	best := -1
	for d := 0; d < r.draws; d++ {
		i := mapBased{}.Pick(p, rand.Uint64N(uint64(total)))
		if best < 0 || p.Load(i)*p.Weight(best) < p.Load(best)*p.Weight(i) {
			best = i
		}
	}
	return best
}
