package stick

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"
)

// Op says what a Delta does.
type Op uint8

// Delta operations.
const (
	OpSet    Op = iota + 1 // create or replace the entry with Fields
	OpDelete               // remove the entry if not newer than UpdatedAt
	OpClear                // remove every entry not newer than UpdatedAt
)

// Field is one stored data value of an entry.
type Field struct {
	Type  DataType
	Value uint64 // counter value; for rates the events of the current period
	Prev  uint64 // rates: events of the previous period
	Tick  int64  // rates: start of the current period, Unix ms
	Str   string // server_key
}

// Delta is the state of one entry after a change, or a deletion. It is a
// full snapshot of the entry, so applying it is idempotent and a later
// delta of the same key replaces an earlier one.
type Delta struct {
	Table     string
	Op        Op
	Key       Key
	UpdatedAt int64 // Unix ns of the change; the newer one wins
	ExpiresAt int64 // Unix ms; 0 = never
	Fields    []Field
}

// Sink consumes batches of deltas. Deltas is called from one goroutine of
// the table at a time, never from the data plane; it may take its time
// (changes made meanwhile are coalesced per key). The batch is the sink's.
type Sink interface {
	Deltas(batch []Delta)
}

type replicator struct {
	mu       sync.Mutex // one flush at a time; guards the fields below
	sink     Sink
	maxBatch atomic.Int64
	clearAt  int64
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	pending  atomic.Int64
	sent     atomic.Int64
}

// noteDirty counts a key waiting for the sink and wakes the flusher when a
// full batch is waiting. It never blocks.
func (r *replicator) noteDirty() {
	if n, m := r.pending.Add(1), r.maxBatch.Load(); m > 0 && n%m == 0 {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

func (r *replicator) noteClearLocked(ns int64) {
	if r.sink != nil {
		r.clearAt = max(r.clearAt, ns)
		r.pending.Add(1)
	}
}

// SetSink starts emitting the table's changes to s in batches of at most
// maxBatch deltas, every flushEvery (0: only when maxBatch changes are
// waiting, or on Flush). A nil s stops emission. Entries present before
// SetSink are not emitted: take a Snapshot for them.
func (t *Table) SetSink(s Sink, maxBatch int, flushEvery time.Duration) {
	t.stopFlusher()
	r := &t.repl
	if maxBatch <= 0 {
		maxBatch = 1024
	}
	r.mu.Lock()
	r.sink = s
	r.maxBatch.Store(int64(maxBatch))
	r.mu.Unlock()
	if s == nil {
		t.sinkOn.Store(false)
		return
	}
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
	t.sinkOn.Store(true)
	go t.flusher(flushEvery, r.kick, r.stop, r.done)
}

// Close stops the flusher after a last flush.
func (t *Table) Close() {
	t.stopFlusher()
	t.Flush()
}

func (t *Table) stopFlusher() {
	r := &t.repl
	if r.stop != nil {
		close(r.stop)
		<-r.done
		r.stop = nil
	}
}

func (t *Table) flusher(every time.Duration, kick, stop, done chan struct{}) {
	defer close(done)
	var tick <-chan time.Time
	if every > 0 {
		tk := time.NewTicker(every)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-stop:
			return
		case <-tick:
			if t.repl.pending.Load() == 0 {
				continue // nothing changed since the last flush began
			}
		case <-kick:
		}
		t.Flush()
	}
}

// Pending returns an upper bound of the keys waiting for the sink.
func (t *Table) Pending() int { return int(t.repl.pending.Load()) }

// Emitted counts the deltas handed to sinks since the table was made.
func (t *Table) Emitted() int64 { return t.repl.sent.Load() }

// DroppedTombstones counts deletions not emitted because too many were
// pending; the peer then drops those entries by its own expiry or LRU.
func (t *Table) DroppedTombstones() int64 { return t.droppedTombs.Load() }

// Flush hands every pending change to the sink now and returns the number
// of deltas emitted.
func (t *Table) Flush() int {
	r := &t.repl
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sink == nil {
		return 0
	}
	r.pending.Store(0)
	var batch []Delta
	total := 0
	emit := func() {
		if len(batch) > 0 {
			total += len(batch)
			r.sink.Deltas(batch)
			batch = nil
		}
	}
	maxBatch := int(r.maxBatch.Load())
	add := func(d Delta) {
		if batch == nil {
			batch = make([]Delta, 0, min(maxBatch, 256))
		}
		batch = append(batch, d)
		if len(batch) >= maxBatch {
			emit()
		}
	}
	if r.clearAt != 0 {
		add(Delta{Table: t.name, Op: OpClear, UpdatedAt: r.clearAt})
		r.clearAt = 0
	}
	// Deletions go first, from every shard, so that a peer of the same size
	// frees room before it takes the new entries.
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		tombs := s.tombs
		s.tombs = nil
		s.mu.Unlock()
		for k, ns := range tombs {
			add(Delta{Table: t.name, Op: OpDelete, Key: k, UpdatedAt: ns})
		}
	}
	// Then the entries' states, one shard at a time so that a consumer that
	// lagged far behind does not make us copy the whole table at once.
	var dirty []*Entry
	var sets []Delta
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		dirty, s.dirty = s.dirty, dirty[:0]
		for _, e := range dirty {
			if !e.dirty {
				continue
			}
			e.dirty = false
			if e.dead {
				continue
			}
			sets = append(sets, t.deltaLocked(e))
		}
		s.mu.Unlock()
		clear(dirty)
		for _, d := range sets {
			add(d)
		}
		sets = sets[:0]
	}
	emit()
	r.sent.Add(int64(total))
	return total
}

// deltaLocked snapshots e (shard locked).
func (t *Table) deltaLocked(e *Entry) Delta {
	d := Delta{Table: t.name, Op: OpSet, Key: e.key, UpdatedAt: e.updated, ExpiresAt: e.exp}
	d.Fields = make([]Field, 0, len(t.def.Store))
	for dt := DataType(0); dt < numDataTypes; dt++ {
		o := t.off[dt]
		if o < 0 {
			continue
		}
		f := Field{Type: dt}
		switch dataInfos[dt].kind {
		case kindCounter:
			f.Value = *e.val(o)
		case kindRate:
			r := e.rate(o)
			f.Tick, f.Value, f.Prev = int64(r[0]), r[1], r[2]
		case kindString:
			f.Str = e.srvKey
		}
		d.Fields = append(d.Fields, f)
	}
	return d
}

// setFieldsLocked replaces e's data with fs; types the table does not
// store are ignored.
func (t *Table) setFieldsLocked(e *Entry, fs []Field) {
	clear(e.inline[:])
	clear(e.more)
	e.srvKey = ""
	for _, f := range fs {
		if f.Type >= numDataTypes {
			continue
		}
		o := t.off[f.Type]
		if o < 0 {
			continue
		}
		switch dataInfos[f.Type].kind {
		case kindCounter:
			*e.val(o) = f.Value
		case kindRate:
			r := e.rate(o)
			r[0], r[1], r[2] = uint64(f.Tick), f.Value, f.Prev
		case kindString:
			e.srvKey = f.Str
		}
	}
}

// ApplyStats says what Apply did.
type ApplyStats struct {
	Applied int // deltas that changed the table
	Stale   int // older than (or equal to) the local state: ignored
	Skipped int // other table, bad key, in-use entry or table full
}

// Apply merges remote deltas: last writer wins by UpdatedAt, so applying a
// batch twice, or an old batch after a new one, changes nothing. Applied
// changes are not emitted to this table's sink (no echo between peers).
func (t *Table) Apply(batch []Delta) ApplyStats {
	var st ApplyStats
	for i := range batch {
		d := &batch[i]
		if d.Table != t.name {
			st.Skipped++
			continue
		}
		switch d.Op {
		case OpClear:
			t.applyClear(d.UpdatedAt, &st)
		case OpDelete, OpSet:
			if !t.validKey(&d.Key) {
				st.Skipped++
				continue
			}
			t.applyOne(d, &st)
		default:
			st.Skipped++
		}
	}
	return st
}

func (t *Table) applyClear(upd int64, st *ApplyStats) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; {
			next := e.next
			if e.ref == 0 && e.updated <= upd {
				s.remove(e, false, 0)
				st.Applied++
			}
			e = next
		}
		for k, ns := range s.tombs {
			if ns <= upd {
				delete(s.tombs, k)
			}
		}
		s.mu.Unlock()
	}
}

func (t *Table) applyOne(d *Delta, st *ApplyStats) {
	s := t.shardFor(&d.Key)
	ms, ns := t.clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(&d.Key)
	if e != nil && t.expired(e, ms) {
		s.remove(e, false, ns)
		e = nil
	}
	gone := d.Op == OpDelete || (d.ExpiresAt != 0 && d.ExpiresAt <= ms)
	if e != nil {
		if d.UpdatedAt < e.updated || (d.UpdatedAt == e.updated && !t.remoteWinsTie(e, d)) {
			st.Stale++
			return
		}
		if gone {
			if e.ref > 0 {
				st.Skipped++
				return
			}
			s.remove(e, false, ns)
			st.Applied++
			return
		}
	} else {
		if gone {
			st.Stale++
			return
		}
		if ts, ok := s.tombs[d.Key]; ok && ts >= d.UpdatedAt {
			st.Stale++ // deleted here after that change
			return
		}
		if !t.reserve(s, ms, ns, false) {
			st.Skipped++
			return
		}
		e = t.newEntry(s, &d.Key, ms)
	}
	if s.tombs != nil {
		delete(s.tombs, d.Key)
	}
	t.setFieldsLocked(e, d.Fields)
	e.updated = d.UpdatedAt
	e.exp = d.ExpiresAt
	e.dirty = false // the remote state supersedes a pending local one
	if s.lru.next != e {
		e.unlink()
		s.pushFront(e)
	}
	e.lruAt = ms
	st.Applied++
}

// remoteWinsTie breaks an UpdatedAt tie between different states
// deterministically (greater encoding wins) so that both peers converge.
func (t *Table) remoteWinsTie(e *Entry, d *Delta) bool {
	local := t.deltaLocked(e)
	a := appendDeltaBody(nil, &local)
	b := appendDeltaBody(nil, d)
	return bytes.Compare(b, a) > 0
}
