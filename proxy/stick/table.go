package stick

import (
	"errors"
	"hash/maphash"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ErrFull is returned when a new entry cannot be stored: the table is full
// and nothing may be purged (nopurge, or every entry is in use).
var ErrFull = errors.New("stick table full")

// Options tune a Table. The zero value is fine for production.
type Options struct {
	// Now is the clock. Expiry and rates follow its monotonic reading when
	// it has one; UpdatedAt follows its wall time. Default: a process-wide
	// clock refreshed every millisecond (see clock.go); tests pass a fake.
	Now func() time.Time
	// Shards is the number of independently locked shards, a power of two
	// (default: one per 1024 entries of size, between 1 and 64).
	Shards int
	// LRUGranularity: an entry moves to the head of the LRU list at most once
	// per this interval, which keeps random-key updates from touching two
	// more cache lines each. Default expire/16, at most 10s; negative means
	// exact.
	LRUGranularity time.Duration
}

// Table is one stick table. All methods are safe for concurrent use.
type Table struct {
	name string
	def  Def

	off    [numDataTypes]int16 // offset in Entry values (val, rate), -1 when not stored
	period [numDataTypes]int64 // rate periods in ms
	nvals  int
	fixed  bool

	shards []shard
	mask   uint64
	shift  uint8 // 64 - log2(len(shards))
	key4   bool  // ip and integer keys: 4 bytes
	seed   maphash.Seed

	nowNs   func() int64 // nil: the process-wide coarse clock
	expMs   int64
	lruMs   int64
	tombCap int

	used atomic.Int64

	sinkOn atomic.Bool
	repl   replicator

	droppedTombs atomic.Int64
	clearFloor   atomic.Int64 // UpdatedAt of the last local clear
}

type shard struct {
	mu    sync.Mutex
	t     *Table
	u32   map[uint32]*Entry    // ip and integer keys
	fixed map[[2]uint64]*Entry // ipv6 keys: hi, lo
	strs  map[string]*Entry
	lru   Entry // sentinel: lru.next is the most recent, lru.prev the oldest
	dirty []*Entry
	tombs map[Key]int64 // keys deleted locally, pending for the sink
	_     [64]byte
}

// Entry is one key of a table with its data. Handles stay valid after the
// entry is removed; changes through a removed handle are ignored.
type Entry struct {
	// First cache line: what every update touches, and the first stored
	// values (counters are laid out first).
	s       *shard
	exp     int64 // ms, 0 = never
	lruAt   int64 // ms of the last move to the LRU head
	updated int64 // wall ns of the last change (last-writer-wins)
	ref     int32
	dirty   bool
	dead    bool
	inline  [nInline]uint64 // stored values; the rest in more
	// Third cache line: what lookups and LRU moves need.
	key    Key
	prev   *Entry
	next   *Entry
	srvKey string
	more   []uint64
}

const nInline = 8

// val returns the counter at offset o.
func (e *Entry) val(o int16) *uint64 {
	if o < nInline {
		return &e.inline[o]
	}
	return &e.more[o-nInline]
}

// rate returns the three words of the frequency counter at offset o (never
// split between inline and more, see New).
func (e *Entry) rate(o int16) []uint64 {
	if o+3 <= nInline {
		return e.inline[o : o+3 : o+3]
	}
	return e.more[o-nInline : o-nInline+3 : o-nInline+3]
}

// New makes a table named name (the proxy section that holds it).
func New(name string, def Def, opt Options) *Table {
	if def.KeyLen == 0 && (def.Type == TypeString || def.Type == TypeBinary) {
		def.KeyLen = DefaultKeyLen
	}
	if def.Size <= 0 {
		def.Size = 1
	}
	def.Store = slices.DeleteFunc(slices.Clone(def.Store), func(s Store) bool { return s.Type >= numDataTypes })
	t := &Table{name: name, def: def, nowNs: clockFunc(opt.Now), fixed: def.Type.fixed(), seed: maphash.MakeSeed()}
	if t.nowNs == nil {
		coarse.once.Do(startCoarse)
	}
	t.repl.kick = make(chan struct{}, 1)
	for i := range t.off {
		t.off[i] = -1
	}
	// Counters first, so that the usual ones share the entry's first cache
	// line with its bookkeeping; a rate never straddles inline and more.
	for _, s := range def.Store {
		if t.off[s.Type] >= 0 {
			continue // stored twice in a hand-made Def
		}
		switch dataInfos[s.Type].kind {
		case kindCounter:
			t.off[s.Type] = int16(t.nvals)
			t.nvals++
		case kindString:
			t.off[s.Type] = 0 // stored in Entry.srvKey
		}
	}
	for _, s := range def.Store {
		if dataInfos[s.Type].kind == kindRate && t.off[s.Type] < 0 {
			if t.nvals < nInline && t.nvals+3 > nInline {
				t.nvals = nInline
			}
			t.off[s.Type] = int16(t.nvals)
			t.period[s.Type] = max(s.Period.Milliseconds(), 1)
			t.nvals += 3 // tick, current, previous
		}
	}
	t.expMs = def.Expire.Milliseconds()
	switch {
	case opt.LRUGranularity < 0:
		t.lruMs = 0
	case opt.LRUGranularity > 0:
		t.lruMs = opt.LRUGranularity.Milliseconds()
	default:
		t.lruMs = 10_000
		if t.expMs > 0 {
			t.lruMs = min(max(t.expMs/16, 1), t.lruMs)
		}
	}
	n := opt.Shards
	if n <= 0 {
		n = 1
		for n < 64 && n*2*1024 <= def.Size {
			n *= 2
		}
	}
	for n&(n-1) != 0 {
		n &= n - 1
	}
	t.mask = uint64(n - 1)
	t.shift = uint8(64 - bits.TrailingZeros(uint(n)))
	t.key4 = def.Type == TypeIP || def.Type == TypeInteger
	t.tombCap = def.Size/n*2 + 16
	t.shards = make([]shard, n)
	// Presized maps probe faster than grown ones; at most 1M slots up front.
	hint := min(def.Size/n, 1<<14)
	for i := range t.shards {
		s := &t.shards[i]
		s.t = t
		switch {
		case def.Type == TypeIPv6:
			s.fixed = make(map[[2]uint64]*Entry, hint)
		case t.fixed:
			s.u32 = make(map[uint32]*Entry, hint)
		default:
			s.strs = make(map[string]*Entry, hint)
		}
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return t
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Def returns the table's definition.
func (t *Table) Def() Def {
	d := t.def
	d.Store = append([]Store(nil), d.Store...)
	return d
}

// Len returns the number of entries stored (HAProxy's "used"), including
// expired entries not purged yet.
func (t *Table) Len() int { return int(t.used.Load()) }

// Size returns the maximum number of entries.
func (t *Table) Size() int { return t.def.Size }

// Stores reports whether the table stores data type dt.
func (t *Table) Stores(dt DataType) bool { return dt < numDataTypes && t.off[dt] >= 0 }

// clock returns now in ms and ns on a wall-clock scale that advances with
// the monotonic clock, so a wall clock step does not expire everything.
//
// The default clock is read with one load, not through a function value:
// every update reads it, and on the data plane's hot path each instruction
// counts (see docs/dev/stick-perf.md: a longer path keeps the CPU from
// overlapping one operation's cache misses with the next one's).
func (t *Table) clock() (ms, ns int64) {
	ns = t.now()
	return ns / 1e6, ns
}

// now is clock's nanoseconds alone, small enough to inline.
func (t *Table) now() int64 {
	if t.nowNs == nil {
		return coarse.ns.Load()
	}
	return t.nowNs()
}

func (t *Table) shardFor(k *Key) *shard { return &t.shards[t.shardIndex(k)] }

// fib is the Fibonacci hashing multiplier (2^64 / golden ratio).
const fib = 0x9E3779B97F4A7C15

// shard4 is shardFor for 4-byte keys, small enough to inline in the hot
// paths (shardFor is not).
func (t *Table) shard4(k *Key) *shard { return &t.shards[(uint64(k.u32())*fib)>>t.shift] }

func (t *Table) shardIndex(k *Key) uint64 {
	if t.key4 {
		// One multiply (Fibonacci hashing, top bits): the per-operation
		// path is short on purpose, see clock.
		return (uint64(k.u32()) * fib) >> t.shift
	}
	var h uint64
	if t.fixed {
		h = (k.hi ^ bits.RotateLeft64(k.lo, 31)) * 0x9E3779B97F4A7C15
		h ^= h >> 29
		h *= 0xBF58476D1CE4E5B9
		h ^= h >> 32
	} else {
		h = maphash.String(t.seed, k.str)
	}
	return h & t.mask
}

func (s *shard) get(k *Key) *Entry {
	if s.u32 != nil {
		return s.u32[k.u32()]
	}
	if s.fixed != nil {
		return s.fixed[[2]uint64{k.hi, k.lo}]
	}
	return s.strs[k.str]
}

func (s *shard) put(e *Entry) {
	if s.u32 != nil {
		s.u32[e.key.u32()] = e
	} else if s.fixed != nil {
		s.fixed[[2]uint64{e.key.hi, e.key.lo}] = e
	} else {
		s.strs[e.key.str] = e
	}
}

func (e *Entry) unlink() {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (s *shard) pushFront(e *Entry) {
	e.prev = &s.lru
	e.next = s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

// remove takes e out of the shard. tomb records a deletion for the sink
// (explicit deletes and size evictions; expiry is not replicated since the
// peer expires the entry by itself from ExpiresAt).
func (s *shard) remove(e *Entry, tomb bool, ns int64) {
	if s.u32 != nil {
		delete(s.u32, e.key.u32())
	} else if s.fixed != nil {
		delete(s.fixed, [2]uint64{e.key.hi, e.key.lo})
	} else {
		delete(s.strs, e.key.str)
	}
	e.unlink()
	e.dead = true
	s.t.used.Add(-1)
	if tomb && s.t.sinkOn.Load() {
		if s.tombs == nil {
			s.tombs = make(map[Key]int64)
		}
		if _, ok := s.tombs[e.key]; ok || len(s.tombs) < s.t.tombCap {
			s.tombs[e.key] = max(ns, e.updated)
			s.t.repl.noteDirty()
		} else {
			s.t.droppedTombs.Add(1)
		}
	}
}

func (t *Table) expired(e *Entry, ms int64) bool {
	return e.ref == 0 && e.exp != 0 && e.exp <= ms
}

// touched records a local change: refresh expiry, LRU position, LWW time
// and the dirty mark for the sink. Called with the shard locked.
// The rare parts (LRU move, dirty mark) are out of line so that the common
// path stays short; update inlines the common case (keep the two in step).
func (s *shard) touched(e *Entry, ms, ns int64) {
	t := s.t
	if t.expMs > 0 {
		e.exp = ms + t.expMs
	}
	if ms-e.lruAt >= t.lruMs {
		s.moveFront(e, ms)
	}
	// Strictly increasing per entry so a local change always supersedes the
	// version it was made on, even when a peer's clock is ahead.
	e.updated = max(ns, e.updated+1)
	if !e.dirty && t.sinkOn.Load() {
		s.markDirty(e)
	}
}

//go:noinline
func (s *shard) moveFront(e *Entry, ms int64) {
	if s.lru.next != e {
		e.unlink()
		s.pushFront(e)
		e.lruAt = ms
	}
}

//go:noinline
func (s *shard) markDirty(e *Entry) {
	e.dirty = true
	s.dirty = append(s.dirty, e)
	s.t.repl.noteDirty()
}

// evictOne frees one slot in s (locked): an expired entry, or with lru the
// least recently used entry not in use. It looks at a bounded number of
// entries from the old end.
func (s *shard) evictOne(ms, ns int64, lru, tomb bool) bool {
	var victim *Entry
	n, seen := 0, 0
	for e := s.lru.prev; e != &s.lru && n < 8 && seen < 64; {
		prev := e.prev
		seen++
		if e.ref > 0 {
			// In use, so recently used: move it out of the way of the
			// next evictions (long-lived connections drift to the tail).
			e.unlink()
			s.pushFront(e)
			e.lruAt = ms
			e = prev
			continue
		}
		n++
		if s.t.expired(e, ms) {
			s.remove(e, false, ns) // an expired entry is the cheapest room
			return true
		}
		if victim == nil {
			victim = e
		}
		e = prev
	}
	if lru && victim != nil {
		s.remove(victim, tomb, ns)
		return true
	}
	return false
}

// reserve claims a slot for a new entry in s (locked), evicting from s if
// the table is full.
func (t *Table) reserve(s *shard, ms, ns int64, tomb bool) bool {
	for {
		n := t.used.Load()
		if n < int64(t.def.Size) {
			if t.used.CompareAndSwap(n, n+1) {
				return true
			}
			continue
		}
		if !s.evictOne(ms, ns, !t.def.NoPurge, tomb) {
			return false
		}
	}
}

// evictElsewhere frees a slot in a shard other than skip (not locked).
func (t *Table) evictElsewhere(skip *shard, ms, ns int64, tomb bool) bool {
	for i := range t.shards {
		s := &t.shards[i]
		if s == skip {
			continue
		}
		s.mu.Lock()
		ok := s.evictOne(ms, ns, !t.def.NoPurge, tomb)
		s.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

func (t *Table) newEntry(s *shard, k *Key, ms int64) *Entry {
	e := &Entry{key: *k, s: s, lruAt: ms}
	if t.nvals > nInline {
		e.more = make([]uint64, t.nvals-nInline)
	}
	s.put(e)
	s.pushFront(e)
	return e
}

// Lookup returns the live entry for k or nil. It neither creates nor
// refreshes the entry (like HAProxy's table_* converters).
func (t *Table) Lookup(k Key) *Entry {
	var s *shard
	if t.key4 {
		s = t.shard4(&k)
	} else {
		s = t.shardFor(&k)
	}
	ms := t.now() / 1e6
	s.mu.Lock()
	e := s.get(&k)
	if e != nil && t.expired(e, ms) {
		s.dropExpired(e)
		e = nil
	}
	s.mu.Unlock()
	return e
}

//go:noinline
func (s *shard) dropExpired(e *Entry) { s.remove(e, false, 0) }

// GetOrCreate returns the entry for k, creating it when missing, and
// refreshes its expiry (stick match/store, track-sc). It fails with ErrFull
// when the table is full and nothing can be purged.
func (t *Table) GetOrCreate(k Key) (*Entry, error) { return t.getOrCreate(&k, false) }

// Track is GetOrCreate that also marks the entry in use (track-sc): it is
// neither evicted nor expired until Release.
func (t *Table) Track(k Key) (*Entry, error) { return t.getOrCreate(&k, true) }

func (t *Table) getOrCreate(k *Key, ref bool) (*Entry, error) {
	var s *shard
	if t.key4 {
		s = t.shard4(k)
	} else {
		s = t.shardFor(k)
	}
	ns := t.now()
	ms := ns / 1e6
	s.mu.Lock()
	var floor int64
	for attempt := 0; ; attempt++ {
		e := s.get(k)
		if e != nil && t.expired(e, ms) {
			floor = e.updated
			s.remove(e, false, ns)
			e = nil
		}
		if e == nil && t.reserve(s, ms, ns, true) {
			e = t.newEntry(s, k, ms)
			// A new incarnation must be newer than anything peers saw of
			// the key, or last-writer-wins could keep the old one.
			if ts, ok := s.tombs[*k]; ok {
				floor = max(floor, ts)
				delete(s.tombs, *k) // the new version supersedes the deletion
			}
			e.updated = max(floor, t.clearFloor.Load())
		}
		if e != nil {
			if ref {
				e.ref++
			}
			s.touched(e, ms, ns)
			s.mu.Unlock()
			return e, nil
		}
		s.mu.Unlock()
		if attempt > 0 || !t.evictElsewhere(s, ms, ns, true) {
			return nil, ErrFull
		}
		s.mu.Lock()
	}
}

// Delete removes the entry for k unless it is in use; it reports whether an
// entry was removed. Like `clear table NAME key K`.
func (t *Table) Delete(k Key) bool {
	s := t.shardFor(&k)
	ms, ns := t.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(&k)
	if e == nil || e.ref > 0 {
		return false
	}
	live := !t.expired(e, ms)
	s.remove(e, live, ns)
	return live
}

// Clear removes every entry not in use and returns how many were removed.
func (t *Table) Clear() int {
	// Holding the flush lock keeps the clear delta ahead of any change made
	// after it in the emitted order.
	t.repl.mu.Lock()
	defer t.repl.mu.Unlock()
	ms, ns := t.clock()
	n := 0
	at := ns // the clear must cover every removed version
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; {
			next := e.next
			if e.ref == 0 {
				if !t.expired(e, ms) {
					n++
				}
				at = max(at, e.updated)
				s.remove(e, false, ns) // covered by the clear delta
			} else if t.sinkOn.Load() && !e.dirty {
				// Kept because in use: sent again after the clear delta,
				// which removes it on the peers.
				e.dirty = true
				s.dirty = append(s.dirty, e)
			}
			e = next
		}
		for _, ts := range s.tombs {
			at = max(at, ts)
		}
		s.tombs = nil
		s.mu.Unlock()
	}
	t.clearFloor.Store(at)
	t.repl.noteClearLocked(at)
	return n
}

// PurgeExpired removes expired entries not in use and returns how many. The
// proxy calls it periodically; lookups also drop expired entries lazily.
func (t *Table) PurgeExpired() int {
	if t.expMs == 0 {
		return 0
	}
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		ms, ns := t.clock()
		s.mu.Lock()
		for e := s.lru.prev; e != &s.lru; {
			prev := e.prev
			if t.expired(e, ms) {
				s.remove(e, false, ns)
				n++
			} else if e.ref == 0 && e.lruAt+t.expMs > ms+t.lruMs {
				// Entries nearer the head were touched later: none expired.
				break
			}
			e = prev
		}
		s.mu.Unlock()
	}
	return n
}

// Key returns the entry's key.
func (e *Entry) Key() Key { return e.key }

// Table returns the table holding the entry.
func (e *Entry) Table() *Table { return e.s.t }

// Acquire marks the entry in use; it reports false if the entry was removed.
func (e *Entry) Acquire() bool {
	s := e.s
	s.mu.Lock()
	ok := !e.dead
	if ok {
		e.ref++
	}
	s.mu.Unlock()
	return ok
}

// Release ends one use (from Track or Acquire) and refreshes the expiry, as
// HAProxy does when a tracking stream ends.
func (e *Entry) Release() {
	s := e.s
	ms, ns := s.t.clock()
	s.mu.Lock()
	if e.ref > 0 {
		e.ref--
	}
	if !e.dead {
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// Use returns the number of current users (show table's use=).
func (e *Entry) Use() int {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return int(e.ref)
}

// Touch refreshes the entry's expiry and LRU position.
func (e *Entry) Touch() {
	s := e.s
	ms, ns := s.t.clock()
	s.mu.Lock()
	if !e.dead {
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// Alive reports whether the entry is still in its table.
func (e *Entry) Alive() bool {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return !e.dead
}

// freq counters: v[0] is the start tick of the current period (ms), v[1]
// the events in the current period, v[2] those of the previous one.
func freqUpdate(v []uint64, period, now int64, inc uint64) {
	_ = v[2]
	tick := int64(v[0])
	if now-tick >= period {
		v[2] = v[1]
		v[1] = 0
		tick += period
		if now-tick >= period { // at least two periods went by
			v[2] = 0
			tick = now
		}
		v[0] = uint64(tick)
	}
	v[1] += inc
}

// freqRead is HAProxy's read_freq_ctr_period: the current count plus the
// previous period's count weighted by the part of the sliding window that
// still overlaps it.
func freqRead(v []uint64, period, now int64) uint64 {
	_ = v[2]
	curr, past := v[1], v[2]
	remain := int64(v[0]) + period - now
	if remain < 0 {
		remain += period
		if remain < 0 {
			return 0
		}
		past, curr = curr, 0
	}
	if remain > period { // tick in the future (peer clock ahead)
		remain = period
	}
	hi, lo := bits.Mul64(past, uint64(remain))
	q, _ := bits.Div64(hi%uint64(period), lo, uint64(period))
	return curr + q
}

// mutate applies one change to e with the shard locked.
func (t *Table) mutate(e *Entry, dt DataType, n uint64, set bool, ms int64) {
	o := t.off[dt]
	switch dataInfos[dt].kind {
	case kindCounter:
		if set {
			if dataInfos[dt].bits == 32 {
				n = uint64(uint32(n))
			}
			*e.val(o) = n
		} else {
			*e.val(o) += n
		}
	case kindRate:
		v := e.rate(o)
		if set {
			v[0], v[1], v[2] = uint64(ms), uint64(uint32(n)), 0
		} else {
			freqUpdate(v, t.period[dt], ms, n)
		}
	}
}

// Add adds n to counter dt, or counts n events in rate dt. It reports
// false when dt is not stored or the entry was removed.
func (e *Entry) Add(dt DataType, n uint64) bool { return e.update(dt, n, false) }

// Set sets counter dt to v (32-bit types keep the low 32 bits, like
// HAProxy), or restarts rate dt at v events in the current period.
func (e *Entry) Set(dt DataType, v uint64) bool { return e.update(dt, v, true) }

func (e *Entry) update(dt DataType, v uint64, set bool) bool {
	s := e.s
	t := s.t
	if dt >= numDataTypes || t.off[dt] < 0 || dt == DataServerKey {
		return false
	}
	ns := t.now()
	ms := ns / 1e6
	s.mu.Lock()
	if e.dead {
		s.mu.Unlock()
		return false
	}
	if o := t.off[dt]; !set && o < nInline && dataInfos[dt].kind == kindCounter &&
		ms-e.lruAt < t.lruMs && !t.sinkOn.Load() {
		// The common case inline: a counter, no LRU move, no sink; the
		// rest of touched as it would do it.
		e.inline[o] += v
		if t.expMs > 0 {
			e.exp = ms + t.expMs
		}
		e.updated = max(ns, e.updated+1)
	} else {
		t.mutate(e, dt, v, set, ms)
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
	return true
}

// Get returns counter dt, or the current value of rate dt.
func (e *Entry) Get(dt DataType) (uint64, bool) {
	s := e.s
	t := s.t
	if dt >= numDataTypes || t.off[dt] < 0 || dt == DataServerKey {
		return 0, false
	}
	ms, _ := t.clock()
	s.mu.Lock()
	v := t.getLocked(e, dt, ms)
	s.mu.Unlock()
	return v, true
}

func (t *Table) getLocked(e *Entry, dt DataType, ms int64) uint64 {
	o := t.off[dt]
	if dataInfos[dt].kind == kindRate {
		return freqRead(e.rate(o), t.period[dt], ms)
	}
	return *e.val(o)
}

// event bumps the counter and the rate of one kind of event in one locked
// section; whichever of the two the table stores.
func (e *Entry) event(cnt, rate DataType, n uint64) {
	s := e.s
	t := s.t
	ms, ns := t.clock()
	s.mu.Lock()
	if !e.dead {
		if o := t.off[cnt]; o >= 0 {
			*e.val(o) += n
		}
		if o := t.off[rate]; o >= 0 {
			freqUpdate(e.rate(o), t.period[rate], ms, n)
		}
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// CountConn records a new connection: conn_cnt, conn_rate and conn_cur.
func (e *Entry) CountConn() {
	s := e.s
	t := s.t
	ms, ns := t.clock()
	s.mu.Lock()
	if !e.dead {
		if o := t.off[DataConnCnt]; o >= 0 {
			(*e.val(o))++
		}
		if o := t.off[DataConnRate]; o >= 0 {
			freqUpdate(e.rate(o), t.period[DataConnRate], ms, 1)
		}
		if o := t.off[DataConnCur]; o >= 0 {
			(*e.val(o))++
		}
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// ConnClosed records the end of a connection counted by CountConn.
func (e *Entry) ConnClosed() {
	s := e.s
	t := s.t
	ms, ns := t.clock()
	s.mu.Lock()
	if o := t.off[DataConnCur]; !e.dead && o >= 0 {
		if p := e.val(o); *p > 0 {
			*p--
		}
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// CountSess records an accepted session: sess_cnt and sess_rate.
func (e *Entry) CountSess() { e.event(DataSessCnt, DataSessRate, 1) }

// CountHTTPReq records an HTTP request: http_req_cnt and http_req_rate.
func (e *Entry) CountHTTPReq() { e.event(DataHTTPReqCnt, DataHTTPReqRate, 1) }

// CountHTTPErr records an HTTP error: http_err_cnt and http_err_rate.
func (e *Entry) CountHTTPErr() { e.event(DataHTTPErrCnt, DataHTTPErrRate, 1) }

// CountHTTPFail records a server failure: http_fail_cnt and http_fail_rate.
func (e *Entry) CountHTTPFail() { e.event(DataHTTPFailCnt, DataHTTPFailRate, 1) }

// AddBytes adds to bytes_in_* (client to server) and bytes_out_*.
func (e *Entry) AddBytes(in, out uint64) {
	s := e.s
	t := s.t
	ms, ns := t.clock()
	s.mu.Lock()
	if !e.dead {
		if o := t.off[DataBytesInCnt]; o >= 0 {
			*e.val(o) += in
		}
		if o := t.off[DataBytesInRate]; o >= 0 {
			freqUpdate(e.rate(o), t.period[DataBytesInRate], ms, in)
		}
		if o := t.off[DataBytesOutCnt]; o >= 0 {
			*e.val(o) += out
		}
		if o := t.off[DataBytesOutRate]; o >= 0 {
			freqUpdate(e.rate(o), t.period[DataBytesOutRate], ms, out)
		}
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// IncGPC0 increments gpc0 and gpc0_rate and returns the new gpc0 (0 when
// not stored), like sc_inc_gpc0.
func (e *Entry) IncGPC0() uint64 { return e.incGPC(DataGPC0, DataGPC0Rate) }

// IncGPC1 is IncGPC0 for gpc1.
func (e *Entry) IncGPC1() uint64 { return e.incGPC(DataGPC1, DataGPC1Rate) }

func (e *Entry) incGPC(cnt, rate DataType) uint64 {
	s := e.s
	t := s.t
	ms, ns := t.clock()
	var v uint64
	s.mu.Lock()
	if !e.dead {
		if o := t.off[cnt]; o >= 0 {
			p := e.val(o)
			*p = uint64(uint32(*p + 1))
			v = *e.val(o)
		}
		if o := t.off[rate]; o >= 0 {
			freqUpdate(e.rate(o), t.period[rate], ms, 1)
			if t.off[cnt] < 0 {
				v = freqRead(e.rate(o), t.period[rate], ms)
			}
		}
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
	return v
}

// ClrGPC0 sets gpc0 to zero and returns its previous value (sc_clr_gpc0).
func (e *Entry) ClrGPC0() uint64 { return e.swap(DataGPC0, 0) }

// ClrGPC1 sets gpc1 to zero and returns its previous value.
func (e *Entry) ClrGPC1() uint64 { return e.swap(DataGPC1, 0) }

// SetGPT0 sets gpt0 (sc_set_gpt0).
func (e *Entry) SetGPT0(v uint32) { e.swap(DataGPT0, uint64(v)) }

func (e *Entry) swap(dt DataType, v uint64) uint64 {
	s := e.s
	t := s.t
	o := t.off[dt]
	if o < 0 {
		return 0
	}
	ms, ns := t.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.dead {
		return 0
	}
	old := *e.val(o)
	*e.val(o) = v
	s.touched(e, ms, ns)
	return old
}

// SetServer records the server an entry sticks to: server_id and the
// server's name in server_key (appl identifies servers by name across boxes).
func (e *Entry) SetServer(id int, name string) {
	s := e.s
	t := s.t
	ms, ns := t.clock()
	s.mu.Lock()
	if !e.dead {
		if o := t.off[DataServerID]; o >= 0 {
			*e.val(o) = uint64(uint32(id))
		}
		if t.off[DataServerKey] >= 0 {
			e.srvKey = name
		}
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// Server returns server_id and server_key.
func (e *Entry) Server() (id int, name string) {
	s := e.s
	t := s.t
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := t.off[DataServerID]; o >= 0 {
		id = int(int32(uint32(*e.val(o))))
	}
	return id, e.srvKey
}

// Expires returns when the entry expires (zero time for never).
func (e *Entry) Expires() time.Time {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if e.exp == 0 {
		return time.Time{}
	}
	return time.UnixMilli(e.exp)
}

// entryID is the number show table prints for an entry (its address).
func entryID(e *Entry) uintptr { return uintptr(unsafe.Pointer(e)) }
