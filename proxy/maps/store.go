package maps

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Store holds the map and pattern files of a process, by name. It outlives a
// configuration reload: a file already loaded keeps its content (and its run-time
// edits) when the new configuration names it again.
type Store struct {
	mu   sync.RWMutex
	refs map[string]*Ref
	uids int

	// replication (see delta.go)
	qmu      sync.Mutex
	queue    []Delta
	sink     Sink
	maxBatch int
	maxQueue int
	replRefs map[*Ref]bool
	queuedBy map[*Ref]int
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	sent     atomic.Int64
	flushMu  sync.Mutex
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{refs: map[string]*Ref{}, kick: make(chan struct{}, 1)}
}

// Load returns the Ref named name, reading it from path on first use (path is the file
// to read; name is how the configuration and the runtime API call it, usually the same).
// isMap says whether lines carry values.
func (s *Store) Load(name, path string, isMap bool) (*Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.refs[name]; r != nil {
		return r, nil
	}
	r := s.newRefLocked(name, isMap)
	if err := r.loadFile(path); err != nil {
		return nil, err
	}
	s.refs[name] = r
	return r, nil
}

// Reload replaces a Ref's content with the file's (an explicit re-read; edits are
// emitted as one OpReplace).
func (s *Store) Reload(name, path string) error {
	r := s.Ref(name)
	if r == nil {
		return fmt.Errorf("%s: %w", name, ErrUnknownRef)
	}
	tmp := NewRef(name, r.isMap)
	if err := tmp.loadFile(path); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next = max(r.next, tmp.next)
	if err := r.replaceLocked(tmp.Entries()); err != nil {
		return err
	}
	s.coalesce(r)
	return nil
}

// Create returns the Ref named name, making an empty one when there is none (e.g.
// for Apply on a fresh replica).
func (s *Store) Create(name string, isMap bool) *Ref {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.refs[name]; r != nil {
		return r
	}
	r := s.newRefLocked(name, isMap)
	r.file = name
	s.refs[name] = r
	return r
}

func (s *Store) newRefLocked(name string, isMap bool) *Ref {
	r := NewRef(name, isMap)
	r.store = s
	s.uids++
	r.uid = s.uids - 1
	return r
}

// ErrUnknownRef is returned for a name that no map or pattern file has.
var ErrUnknownRef = errors.New("unknown map or pattern file")

// Ref finds a Ref by name or by "#UID"; a relative name also matches a loaded path
// that ends with it (`show map hosts.map`), when that is unambiguous.
func (s *Store) Ref(name string) *Ref {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.refs[name]; r != nil {
		return r
	}
	if strings.HasPrefix(name, "#") {
		if n, err := strconv.Atoi(name[1:]); err == nil {
			for _, r := range s.refs {
				if r.uid == n {
					return r
				}
			}
		}
		return nil
	}
	var found *Ref
	clean := filepath.Clean(name)
	for k, r := range s.refs {
		if filepath.Clean(k) == clean || strings.HasSuffix(k, "/"+strings.TrimPrefix(clean, "./")) {
			if found != nil {
				return nil
			}
			found = r
		}
	}
	return found
}

// Refs returns every Ref in UID order; maps selects maps (true) or pattern files (false).
func (s *Store) Refs(maps bool) []*Ref {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Ref
	for _, r := range s.refs {
		if r.isMap == maps {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uid < out[j].uid })
	return out
}

// all returns every Ref sorted by name.
func (s *Store) all() []*Ref {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Ref, 0, len(s.refs))
	for _, r := range s.refs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Sink consumes batches of deltas. Deltas is called from one goroutine at a time,
// never from an editing goroutine; it may take its time (edits made meanwhile queue up
// to a bound, then coalesce into whole-map replacements). The batch is the sink's.
type Sink interface {
	Deltas(batch []Delta)
}

// SetSink starts emitting edits to sink in batches of at most maxBatch deltas, every
// flushEvery (0: only when maxBatch deltas wait, or on Flush). A nil sink stops
// emission. Content present before SetSink is not emitted: take a Snapshot for it.
func (s *Store) SetSink(sink Sink, maxBatch int, flushEvery time.Duration) {
	s.stopFlusher()
	if maxBatch <= 0 {
		maxBatch = 1024
	}
	s.qmu.Lock()
	s.sink = sink
	s.maxBatch = maxBatch
	if s.maxQueue == 0 {
		s.maxQueue = 16 * maxBatch
	}
	s.queue = nil
	s.replRefs = nil
	s.qmu.Unlock()
	if sink == nil {
		return
	}
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go s.flusher(flushEvery, s.stop, s.done)
}

// SetMaxPending bounds the queued deltas (default 16 × maxBatch); beyond it, the Ref
// that has the most queued deltas is coalesced into one OpReplace.
func (s *Store) SetMaxPending(n int) {
	s.qmu.Lock()
	s.maxQueue = n
	s.qmu.Unlock()
}

// Close stops the flusher after a last flush.
func (s *Store) Close() {
	s.stopFlusher()
	s.Flush()
}

func (s *Store) stopFlusher() {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
}

func (s *Store) flusher(every time.Duration, stop, done chan struct{}) {
	defer close(done)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-stop:
			return
		case <-tick:
		case <-s.kick:
		}
		s.Flush()
	}
}

// enqueue is called with r.mu held, so a Ref's deltas queue in edit order.
func (s *Store) enqueue(r *Ref, d Delta) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.sink == nil || s.replRefs[r] {
		return
	}
	s.queue = append(s.queue, d)
	if s.queuedBy == nil {
		s.queuedBy = map[*Ref]int{}
	}
	s.queuedBy[r]++
	if len(s.queue) > s.maxQueue {
		// Coalesce the Ref with the most queued deltas (most likely this one).
		worst := r
		for x, n := range s.queuedBy {
			if n > s.queuedBy[worst] {
				worst = x
			}
		}
		s.coalesceLocked(worst)
	}
	if len(s.queue)%s.maxBatch == 0 {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// coalesce drops r's queued deltas in favour of one OpReplace at the next flush.
func (s *Store) coalesce(r *Ref) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.sink != nil {
		s.coalesceLocked(r)
	}
}

func (s *Store) coalesceLocked(r *Ref) {
	if s.replRefs == nil {
		s.replRefs = map[*Ref]bool{}
	}
	s.replRefs[r] = true
	q := s.queue[:0]
	for _, d := range s.queue {
		if d.Map != r.name {
			q = append(q, d)
		}
	}
	clear(s.queue[len(q):])
	s.queue = q
	delete(s.queuedBy, r)
}

// Pending returns the number of deltas waiting for the sink (a coalesced Ref counts 1).
func (s *Store) Pending() int {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return len(s.queue) + len(s.replRefs)
}

// Sent returns the number of deltas handed to the sink so far.
func (s *Store) Sent() int64 { return s.sent.Load() }

// Flush hands every waiting delta to the sink now and returns how many were sent.
func (s *Store) Flush() int {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.qmu.Lock()
	sink, q, repl, maxBatch := s.sink, s.queue, s.replRefs, s.maxBatch
	s.queue, s.replRefs, s.queuedBy = nil, nil, nil
	s.qmu.Unlock()
	if sink == nil {
		return 0
	}
	var rs []*Ref
	for r := range repl {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].name < rs[j].name })
	for _, r := range rs {
		// Taken after the queue was grabbed: edits made since are in both this
		// state and the next batch, which Apply tolerates (idempotent by id).
		q = append(q, Delta{Map: r.name, Op: OpReplace, IsMap: r.isMap, Entries: r.Entries()})
	}
	total := len(q)
	for len(q) > 0 {
		n := min(len(q), maxBatch)
		sink.Deltas(q[:n:n])
		q = q[n:]
	}
	s.sent.Add(int64(total))
	return total
}
