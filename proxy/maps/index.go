package maps

import (
	"fmt"
	"math/bits"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Entry is one line of a map or pattern file: Value is "" for ACL patterns.
type Entry struct {
	ID    uint64 // unique within its Ref, assigned in insertion order from 1
	Key   string
	Value string
}

// RefString formats the id as HAProxy prints entry references (`show map`).
func (e Entry) RefString() string { return "0x" + strconv.FormatUint(e.ID, 16) }

type entry struct {
	Entry
	line int // line in the file it was loaded from, 0 when added at run time
}

// Index matches samples against the entries of one Ref with one match method. It is
// kept current by every edit of the Ref. Lookups are safe for concurrent use.
type Index struct {
	ref   *Ref
	kind  Kind
	icase bool

	str map[string][]*entry // Str: key (lowered under icase) -> entries, first wins

	v4     [33]map[uint32][]*entry
	v4lens uint64 // bit n set when v4[n] is not empty
	// v4seen[n] has bit k>>16 set when a prefix of length n with those top 16 bits was
	// inserted: most lengths are skipped without hashing. Deletions leave bits set (a
	// stale bit only costs a map lookup); Clear resets them.
	v4seen [33]*[1 << 10]uint64
	v6     [129]map[[16]byte][]*entry
	v6lens [3]uint64

	pats []pat // scanning kinds, in entry order
}

type pat struct {
	e      *entry
	s      string // key, trimmed for dom/dir
	lo, hi int64
	re     *regexp.Regexp
}

// Kind returns the match method.
func (x *Index) Kind() Kind { return x.kind }

// IgnoreCase says whether the index compares strings case-insensitively.
func (x *Index) IgnoreCase() bool { return x.icase }

// Ref returns the entries the index matches against.
func (x *Index) Ref() *Ref { return x.ref }

func newIndex(r *Ref, k Kind, icase bool) *Index {
	x := &Index{ref: r, kind: k, icase: icase}
	if k == Str {
		x.str = make(map[string][]*entry)
	}
	return x
}

// prepare validates an entry's key for this index; the result is handed to insert.
func (x *Index) prepare(e *entry) (pat, error) {
	p := pat{e: e, s: e.Key}
	var err error
	switch x.kind {
	case IP:
		var pf netip.Prefix
		pf, err = ParseIPPattern(e.Key)
		p.lo = int64(pf.Bits())
		p.re = nil
		p.s = ""
		if err == nil {
			p.s = string(pf.Addr().AsSlice())
		}
	case Int, Len:
		p.lo, p.hi, err = ParseIntRange(e.Key)
	case Reg:
		src := e.Key
		if x.icase {
			src = "(?i)" + src
		}
		p.re, err = regexp.Compile(src)
		if err != nil {
			err = fmt.Errorf("bad regex %q (RE2 syntax): %v", e.Key, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	case Str:
		if x.icase {
			p.s = string(lowerASCII(p.s, nil))
		}
	}
	return p, err
}

func (x *Index) insert(p pat) {
	switch x.kind {
	case Str:
		x.str[p.s] = append(x.str[p.s], p.e)
	case IP:
		n := int(p.lo)
		if len(p.s) == 4 {
			k := v4key([]byte(p.s))
			if x.v4[n] == nil {
				x.v4[n] = make(map[uint32][]*entry)
			}
			x.v4[n][k] = append(x.v4[n][k], p.e)
			x.v4lens |= 1 << n
			if x.v4seen[n] == nil {
				x.v4seen[n] = new([1 << 10]uint64)
			}
			x.v4seen[n][k>>22] |= 1 << (k >> 16 & 63)
		} else {
			var k [16]byte
			copy(k[:], p.s)
			if x.v6[n] == nil {
				x.v6[n] = make(map[[16]byte][]*entry)
			}
			x.v6[n][k] = append(x.v6[n][k], p.e)
			x.v6lens[n/64] |= 1 << (n % 64)
		}
	default:
		x.pats = append(x.pats, p)
	}
}

// insertSorted keeps the id order when an entry is applied from a peer out of order.
func (x *Index) insertAt(p pat) {
	switch x.kind {
	case Str, IP:
		x.insert(p)
		x.sortBucket(p)
	default:
		i := len(x.pats)
		for i > 0 && x.pats[i-1].e.ID > p.e.ID {
			i--
		}
		x.pats = append(x.pats, pat{})
		copy(x.pats[i+1:], x.pats[i:])
		x.pats[i] = p
	}
}

func (x *Index) sortBucket(p pat) {
	var b []*entry
	switch x.kind {
	case Str:
		b = x.str[p.s]
	case IP:
		if len(p.s) == 4 {
			b = x.v4[p.lo][v4key([]byte(p.s))]
		} else {
			var k [16]byte
			copy(k[:], p.s)
			b = x.v6[p.lo][k]
		}
	}
	for i := len(b) - 1; i > 0 && b[i-1].ID > b[i].ID; i-- {
		b[i-1], b[i] = b[i], b[i-1]
	}
}

func (x *Index) remove(e *entry) {
	switch x.kind {
	case Str:
		k := e.Key
		if x.icase {
			k = string(lowerASCII(k, nil))
		}
		if b := dropEntry(x.str[k], e); len(b) == 0 {
			delete(x.str, k)
		} else {
			x.str[k] = b
		}
	case IP:
		pf, err := ParseIPPattern(e.Key)
		if err != nil {
			return
		}
		n := pf.Bits()
		if pf.Addr().Is4() {
			k := v4key(pf.Addr().AsSlice())
			if b := dropEntry(x.v4[n][k], e); len(b) == 0 {
				delete(x.v4[n], k)
				if len(x.v4[n]) == 0 {
					x.v4lens &^= 1 << n
				}
			} else {
				x.v4[n][k] = b
			}
		} else {
			k := pf.Addr().As16()
			if b := dropEntry(x.v6[n][k], e); len(b) == 0 {
				delete(x.v6[n], k)
				if len(x.v6[n]) == 0 {
					x.v6lens[n/64] &^= 1 << (n % 64)
				}
			} else {
				x.v6[n][k] = b
			}
		}
	default:
		for i := range x.pats {
			if x.pats[i].e == e {
				x.pats = append(x.pats[:i], x.pats[i+1:]...)
				break
			}
		}
	}
}

func (x *Index) reset() {
	*x = *newIndex(x.ref, x.kind, x.icase)
}

func dropEntry(b []*entry, e *entry) []*entry {
	for i, v := range b {
		if v == e {
			return append(b[:i], b[i+1:]...)
		}
	}
	return b
}

func v4key(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Lookup matches a string sample: the first entry (in file order) that matches, or
// for Str and IP the entry of the exact key / longest prefix. An IP index parses s; an
// Int index parses s as an integer; a Len index matches len(s).
func (x *Index) Lookup(s string) (Entry, bool) {
	switch x.kind {
	case IP:
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Entry{}, false
		}
		return x.LookupIP(a)
	case Int:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Entry{}, false
		}
		return x.LookupInt(v)
	case Len:
		return x.LookupInt(int64(len(s)))
	}
	defer x.ref.mu.runlockAt(x.ref.mu.rlockAt(strHash(s)))
	switch x.kind {
	case Str:
		var b []*entry
		if x.icase && hasUpperASCII(s) {
			var buf [128]byte
			b = x.str[string(lowerASCII(s, buf[:0]))]
		} else {
			b = x.str[s]
		}
		if len(b) > 0 {
			return b[0].Entry, true
		}
		return Entry{}, false
	}
	for i := range x.pats {
		p := &x.pats[i]
		var ok bool
		switch x.kind {
		case Beg:
			ok = hasPrefix(s, p.s, x.icase)
		case End:
			ok = hasSuffix(s, p.s, x.icase)
		case Sub:
			ok = contains(s, p.s, x.icase)
		case Dom:
			ok = hasDelimited(s, p.s, "./?:", x.icase)
		case Dir:
			ok = hasDelimited(s, p.s, "/?", x.icase)
		case Reg:
			ok = p.re.MatchString(s)
		}
		if ok {
			return p.e.Entry, true
		}
	}
	return Entry{}, false
}

// LookupInt matches an integer against Int (or Len) ranges, first in file order.
func (x *Index) LookupInt(v int64) (Entry, bool) {
	defer x.ref.mu.runlockAt(x.ref.mu.rlockAt(uint32(v) ^ uint32(v>>32)))
	if x.kind != Int && x.kind != Len {
		return Entry{}, false
	}
	for i := range x.pats {
		if p := &x.pats[i]; p.lo <= v && v <= p.hi {
			return p.e.Entry, true
		}
	}
	return Entry{}, false
}

// LookupIP finds the longest prefix containing a (IPv4-mapped addresses as IPv4).
func (x *Index) LookupIP(a netip.Addr) (Entry, bool) {
	if x.kind != IP || !a.IsValid() {
		return Entry{}, false
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		k := v4key(b[:])
		defer x.ref.mu.runlockAt(x.ref.mu.rlockAt(k))
		for m := x.v4lens; m != 0; {
			n := 63 - bits.LeadingZeros64(m)
			m &^= 1 << n
			var mask uint32
			if n > 0 {
				mask = ^uint32(0) << (32 - n)
			}
			km := k & mask
			if x.v4seen[n][km>>22]&(1<<(km>>16&63)) == 0 {
				continue
			}
			if e := x.v4[n][km]; len(e) > 0 {
				return e[0].Entry, true
			}
		}
		return Entry{}, false
	}
	k := a.As16()
	defer x.ref.mu.runlockAt(x.ref.mu.rlockAt(v4key(k[12:])))
	for w := 2; w >= 0; w-- {
		for m := x.v6lens[w]; m != 0; {
			bit := 63 - bits.LeadingZeros64(m)
			m &^= 1 << bit
			n := w*64 + bit
			if e := x.v6[n][mask16(k, n)]; len(e) > 0 {
				return e[0].Entry, true
			}
		}
	}
	return Entry{}, false
}

func mask16(k [16]byte, n int) [16]byte {
	for i := range k {
		switch {
		case n >= 8:
			n -= 8
		case n <= 0:
			k[i] = 0
		default:
			k[i] &= ^byte(0xff >> n)
			n = 0
		}
	}
	return k
}
