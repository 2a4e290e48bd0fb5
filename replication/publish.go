package replication

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// publisher batches published payloads into Raft entries. publish only
// appends under a mutex (the data plane's flushers call it); one goroutine
// sends. An entry the leader did not commit (leadership lost, no leader
// for too long) is not retried as such: its streams are resent whole,
// which also covers whatever was dropped meanwhile.
type publisher struct {
	n *Node

	mu      sync.Mutex
	recs    []record
	bytes   int
	resync  map[string]bool
	kick    chan struct{}
	flushed chan chan struct{}

	inflight chan inflight // leader path: futures awaited in order

	// outstanding counts entries handed to Raft whose commit is not yet
	// known (Settled says when a graceful handover may proceed).
	outstanding atomic.Int64
	records     atomic.Int64
	entries     atomic.Int64
	dropped     atomic.Int64
	resyncs     atomic.Int64
}

type inflight struct {
	f       raft.ApplyFuture
	streams []string
}

func (p *publisher) init(n *Node) {
	p.n = n
	p.resync = map[string]bool{}
	p.kick = make(chan struct{}, 1)
	p.flushed = make(chan chan struct{})
	p.inflight = make(chan inflight, 64)
	n.wg.Add(1)
	go p.await()
}

func (p *publisher) publish(stream string, payload []byte) {
	if p.n.closed.Load() {
		p.dropped.Add(1)
		return
	}
	p.mu.Lock()
	if p.bytes+len(payload) > p.n.cfg.MaxPendingBytes {
		p.resync[stream] = true
		p.mu.Unlock()
		p.dropped.Add(1)
		return
	}
	p.recs = append(p.recs, record{stream, payload})
	p.bytes += len(payload)
	first := len(p.recs) == 1
	full := p.fullLocked()
	p.mu.Unlock()
	p.records.Add(1)
	if first || full {
		p.wake()
	}
}

func (p *publisher) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *publisher) fullLocked() bool {
	return len(p.recs) >= p.n.cfg.BatchMaxRecords || p.bytes >= p.n.cfg.BatchMaxBytes
}

// due says whether a batch must go now: it is full, or it may go because
// the last entry left at least BatchEvery ago.
func (p *publisher) due(last time.Time) (bool, time.Duration) {
	p.mu.Lock()
	full := p.fullLocked()
	p.mu.Unlock()
	wait := p.n.cfg.BatchEvery - time.Since(last)
	return full || wait <= 0, wait
}

func (p *publisher) waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.recs) > 0 || len(p.resync) > 0
}

// flushNow sends what waits and returns when it was handed to Raft (or
// could not be), for a graceful close.
func (p *publisher) flushNow() {
	done := make(chan struct{})
	select {
	case p.flushed <- done:
		select {
		case <-done:
		case <-time.After(p.n.cfg.WriteTimeout):
		}
	case <-time.After(p.n.cfg.WriteTimeout):
	}
}

// run sends batches. A batch goes at once when the previous entry left
// BatchEvery ago or more (or when it is full), else when that interval is
// over: at most one entry per BatchEvery, and a payload never waits more
// than BatchEvery. The stick tables already batch (StickFlushEvery), so
// a table flush normally becomes an entry without a second wait: a free
// ticker here added up to BatchEvery to the loss window at a master kill
// and, at 5 ms + 5 ms, produced twice the entries (a Raft append, two
// fsyncs and an RPC each: the dominant cost per stick update) for the
// same window. Idle, nothing wakes.
func (p *publisher) run() {
	defer p.n.wg.Done()
	var last time.Time // when the last entry went to Raft
	t := time.NewTimer(p.n.cfg.BatchEvery)
	defer t.Stop()
	for {
		var done chan struct{}
		select {
		case <-p.n.stop:
			// A graceful close flushed already; drain a last request.
			select {
			case done := <-p.flushed:
				close(done)
			default:
			}
			return
		case <-t.C:
		case <-p.kick:
			if now, wait := p.due(last); !now {
				t.Reset(wait)
				continue
			}
		case done = <-p.flushed:
		}
		if p.flush() {
			last = time.Now()
		}
		if done != nil {
			close(done)
		}
		if p.waiting() {
			// No leader yet, a resync marked, or payloads that came
			// during the flush: try again after an interval.
			t.Reset(p.n.cfg.BatchEvery)
		}
	}
}

// flush hands what waits to Raft; false when nothing was sent.
func (p *publisher) flush() bool {
	n := p.n
	addr, id := n.leader()
	if id == "" {
		return false // keep waiting (bounded by MaxPendingBytes)
	}
	p.mu.Lock()
	recs := p.recs
	p.recs, p.bytes = nil, 0
	var resync []string
	for s := range p.resync {
		resync = append(resync, s)
	}
	p.mu.Unlock()
	sent := len(recs) > 0 || len(resync) > 0
	for len(recs) > 0 {
		// Split at BatchMaxBytes so one entry stays a reasonable RPC.
		cut, size := 0, 0
		for cut < len(recs) && (cut == 0 || size+len(recs[cut].payload) <= n.cfg.BatchMaxBytes) {
			size += len(recs[cut].payload)
			cut++
		}
		p.send(addr, id, encodePublish(n.fsm.incarnation, recs[:cut]), streamsOf(recs[:cut]))
		recs = recs[cut:]
	}
	sort.Strings(resync)
	for _, s := range resync {
		st := n.fsm.stream(s)
		p.mu.Lock()
		delete(p.resync, s)
		p.mu.Unlock()
		if st == nil {
			continue
		}
		var buf bytes.Buffer
		if err := st.Snapshot(&buf); err != nil {
			p.markResync([]string{s})
			continue
		}
		p.resyncs.Add(1)
		p.send(addr, id, encodeCommit(entryResync, n.fsm.incarnation, s, buf.Bytes()), []string{s})
	}
	return sent
}

// settled says whether everything published so far is committed (or
// given up and marked for resync).
func (p *publisher) settled() bool {
	p.mu.Lock()
	waiting := len(p.recs) > 0 || len(p.resync) > 0
	p.mu.Unlock()
	return !waiting && p.outstanding.Load() == 0
}

func streamsOf(recs []record) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.stream] {
			seen[r.stream] = true
			out = append(out, r.stream)
		}
	}
	return out
}

func (p *publisher) markResync(streams []string) {
	p.mu.Lock()
	for _, s := range streams {
		p.resync[s] = true
	}
	p.mu.Unlock()
	p.wake()
}

// send hands one entry to the leader. On the leader it does not wait for
// the commit (await does, in order), so batches pipeline; a follower
// forwards and waits, which keeps its batches in order.
func (p *publisher) send(addr, id string, entry []byte, streams []string) {
	n := p.n
	p.entries.Add(1)
	p.outstanding.Add(1)
	if id == n.cfg.NodeID {
		r := n.raft()
		f := r.Apply(entry, n.cfg.WriteTimeout)
		select {
		case p.inflight <- inflight{f, streams}:
		case <-n.stop:
			p.outstanding.Add(-1)
		}
		return
	}
	defer p.outstanding.Add(-1)
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.WriteTimeout)
	defer cancel()
	if _, err := n.call(ctx, addr, opApply, entry); err != nil {
		p.markResync(streams)
	}
}

func (p *publisher) await() {
	defer p.n.wg.Done()
	for {
		select {
		case <-p.n.stop:
			return
		case in := <-p.inflight:
			// Not in.f.Error() directly: a future cut short by a shutdown
			// may never answer.
			if err := p.n.awaitFuture(in.f, p.n.cfg.WriteTimeout+time.Second); err != nil {
				p.markResync(in.streams)
			}
			p.outstanding.Add(-1)
		}
	}
}
