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
	full := len(p.recs) >= p.n.cfg.BatchMaxRecords || p.bytes >= p.n.cfg.BatchMaxBytes
	p.mu.Unlock()
	p.records.Add(1)
	if full {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
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

func (p *publisher) run() {
	defer p.n.wg.Done()
	t := time.NewTicker(p.n.cfg.BatchEvery)
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
		case done = <-p.flushed:
		}
		p.flush()
		if done != nil {
			close(done)
		}
	}
}

func (p *publisher) flush() {
	n := p.n
	addr, id := n.leader()
	if id == "" {
		return // keep waiting (bounded by MaxPendingBytes)
	}
	p.mu.Lock()
	recs := p.recs
	p.recs, p.bytes = nil, 0
	var resync []string
	for s := range p.resync {
		resync = append(resync, s)
	}
	p.mu.Unlock()
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
