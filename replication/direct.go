package replication

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// direct sends published payloads straight to the other boxes as soon as
// they are published, outside Raft: one request per batch over the pooled
// cluster RPC connections, applied in memory on arrival, nothing written to
// disk. Raft still carries the same payloads (the publisher), durably and
// in order, but it may then batch them over a long BatchEvery: each Raft
// entry costs a bolt commit with two fsyncs on every box, a chain of
// goroutine hand-offs and an RPC, ~0.7 ms of CPU per box on the 2-CPU test
// host, which at a stick flush every 10 ms was most of what replication cost
// per proxied connection. The direct path is best effort: a request that
// fails or a batch dropped because a peer is slow is only late (Raft brings
// it within BatchEvery), never lost, so it needs no retry nor resync.
//
// What a standby holds when the master dies is then what reached it
// directly (the table's flush interval plus a round trip), not what Raft
// had committed; last-writer-wins makes the two deliveries of a payload
// commute (published streams take concurrent, repeated ApplyRemote calls).
type direct struct {
	n *Node

	mu    sync.Mutex
	recs  []record
	bytes int
	kick  chan struct{}
	down  map[string]time.Time // run's: peers not asked again before then

	sent    atomic.Int64 // requests answered by a peer
	failed  atomic.Int64 // requests a peer did not answer (Raft delivers)
	dropped atomic.Int64 // payloads not sent: too much waiting (Raft delivers)
	applied atomic.Int64 // records applied here from other boxes
}

var errNotPublish = errors.New("replication: a direct batch must be a published batch")

// maxDirectPending bounds what waits for a slow peer; beyond it payloads
// go by Raft only.
const maxDirectPending = 8 << 20

// directTimeout bounds one request: a peer slower than this gets the
// payloads through Raft.
const directTimeout = time.Second

// directBackoff: a peer that failed a request gets the next ones by Raft
// only for this long.
const directBackoff = time.Second

func (d *direct) init(n *Node) {
	d.n = n
	d.kick = make(chan struct{}, 1)
	d.down = map[string]time.Time{}
}

func (d *direct) add(stream string, payload []byte) {
	d.mu.Lock()
	if d.bytes+len(payload) > maxDirectPending {
		d.mu.Unlock()
		d.dropped.Add(1)
		return
	}
	d.recs = append(d.recs, record{stream, payload})
	d.bytes += len(payload)
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// run sends what waits, one request per peer at a time: payloads published
// while a request is out go together in the next one.
func (d *direct) run() {
	defer d.n.wg.Done()
	for {
		select {
		case <-d.n.stop:
			return
		case <-d.kick:
		}
		d.mu.Lock()
		recs := d.recs
		d.recs, d.bytes = nil, 0
		d.mu.Unlock()
		if len(recs) == 0 {
			continue
		}
		peers := d.peers(time.Now())
		if len(peers) == 0 {
			continue
		}
		for len(recs) > 0 {
			cut, size := 0, 0
			for cut < len(recs) && (cut == 0 || size+len(recs[cut].payload) <= d.n.cfg.BatchMaxBytes) {
				size += len(recs[cut].payload)
				cut++
			}
			entry := encodePublish(d.n.fsm.incarnation, recs[:cut])
			recs = recs[cut:]
			for _, addr := range peers {
				ctx, cancel := context.WithTimeout(context.Background(), directTimeout)
				_, err := d.n.call(ctx, addr, opDirect, entry)
				cancel()
				if err != nil {
					d.failed.Add(1)
					d.down[addr] = time.Now().Add(directBackoff)
				} else {
					d.sent.Add(1)
				}
			}
		}
	}
}

// peers are the cluster addresses of the other voters that carry streams
// (a witness, as gossip tells, has none), but for one that failed a request
// in the last directBackoff: while a box is down each batch would otherwise
// try to reach it (a connect timeout on a real network).
func (d *direct) peers(now time.Time) []string {
	n := d.n
	cf := n.raft().GetConfiguration()
	if cf.Error() != nil {
		return nil
	}
	witness := map[string]bool{}
	if n.gossip != nil {
		for _, m := range n.gossip.statuses() {
			if m.Witness {
				witness[m.Node] = true
			}
		}
	}
	var out []string
	for _, s := range cf.Configuration().Servers {
		if string(s.ID) == n.cfg.NodeID || s.Suffrage != raft.Voter || witness[string(s.ID)] || now.Before(d.down[string(s.Address)]) {
			continue
		}
		out = append(out, string(s.Address))
	}
	return out
}

// applyDirect applies a batch another box sent directly (a witness keeps
// no streams).
func (n *Node) applyDirect(body []byte) error {
	if n.cfg.Witness {
		return nil
	}
	k, err := n.fsm.applyDirect(body)
	n.direct.applied.Add(int64(k))
	return err
}
