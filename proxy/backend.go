package proxy

import (
	"container/list"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"appl/proxy/accesslog"
	"appl/proxy/balance"
	"appl/proxy/config"
	"appl/proxy/tcprules"
)

// backend is one backend of one configuration generation.
type backend struct {
	cfg       *config.Backend
	name      string
	servers   []*server // declaration order
	primaries []*server
	backups   []*server
	sinks     []*accesslog.Sink

	mu      sync.Mutex // picks and the queue
	pickP   balance.Picker
	pickB   balance.Picker
	queue   list.List // of *waiter
	hashKey bool      // the algorithm needs the client address
	rules   *tcprules.Rules
	// hashed: the algorithm picks by a key; fallP/fallB (round robin) serve the
	// requests that have none (L7 algorithms, as HAProxy).
	hashed       bool
	fallP, fallB balance.Picker
	h            httpCounters
	scratch      pool // the Pool of the pick in progress (under mu): no allocation per pick

	cur, total    atomic.Int64
	connErrors    atomic.Int64
	queueTimeouts atomic.Int64
	queueFull     atomic.Int64
}

// pickReq is what one pick needs beyond the backend's state.
type pickReq struct {
	key    uint64
	nokey  bool    // a hashing algorithm without a key: round robin
	except *server // redispatch: avoid this one if another can take it
	want   *server // persistence: only this server (up or draining), queue when full
}

// waiter is a connection queued for a server slot.
type waiter struct {
	req  pickReq
	ch   chan *server
	elem *list.Element
}

// pool adapts a server list to balance.Pool for one pick.
type pool struct {
	srv    []*server
	now    time.Time
	except *server
}

func (p *pool) Len() int { return len(p.srv) }
func (p *pool) Usable(i int) bool {
	s := p.srv[i]
	return s != p.except && s.available() && !s.full()
}
func (p *pool) Weight(i int) int { return p.srv[i].weightNow(p.now) }
func (p *pool) Load(i int) int   { return int(p.srv[i].cur.Load()) }

var (
	errNoServer  = errors.New("no server available")
	errQueueFull = errors.New("queue full")
	errQueueTime = errors.New("queue timeout")
)

// upCounts counts servers up and ready.
func (b *backend) upCounts() (act, bck int) {
	for _, s := range b.primaries {
		if s.available() {
			act++
		}
	}
	for _, s := range b.backups {
		if s.available() {
			bck++
		}
	}
	return
}

// pickLocked chooses a server and takes a slot on it, or returns nil. Backups serve only
// when no primary is available (all of them with allbackups, else the first usable).
func (b *backend) pickLocked(r pickReq) *server {
	if w := r.want; w != nil {
		if w.full() {
			return nil
		}
		w.cur.Add(1)
		w.total.Add(1)
		return w
	}
	key, except := r.key, r.except
	pickP, pickB := b.pickP, b.pickB
	if r.nokey && b.fallP != nil {
		pickP, pickB = b.fallP, b.fallB
	}
	now := time.Now()
	act, _ := b.upCounts()
	var s *server
	if act > 0 {
		p := &b.scratch
		*p = pool{srv: b.primaries, now: now, except: except}
		if i := pickP.Pick(p, key); i >= 0 {
			s = b.primaries[i]
		} else if except != nil {
			p.except = nil
			if i := pickP.Pick(p, key); i >= 0 {
				s = b.primaries[i]
			}
		}
	} else if len(b.backups) > 0 {
		p := &b.scratch
		*p = pool{srv: b.backups, now: now, except: except}
		if b.cfg.AllBackups {
			if i := pickB.Pick(p, key); i >= 0 {
				s = b.backups[i]
			}
		} else {
			for _, c := range b.backups {
				if c.available() {
					if !c.full() {
						s = c
					}
					break
				}
			}
		}
	}
	if s != nil {
		s.cur.Add(1)
		s.total.Add(1)
	}
	return s
}

// anyUp reports whether some server could take traffic once it has a free slot.
func (b *backend) anyUp() bool {
	a, k := b.upCounts()
	return a+k > 0
}

// queueLimit is the queue capacity: the sum of maxqueue of the servers that could serve,
// unlimited (-1) when one of them has none, 0 when no server has a maxconn (nothing
// would ever free a slot that a full server holds).
func (b *backend) queueLimit() int {
	act, _ := b.upCounts()
	list := b.primaries
	if act == 0 {
		list = b.backups
	}
	limit, limited := 0, false
	for _, s := range list {
		sp := s.spec.Load()
		if sp.maxConn == 0 || !s.available() {
			continue
		}
		limited = true
		if sp.maxQueue == 0 {
			return -1
		}
		limit += sp.maxQueue
	}
	if !limited {
		return 0
	}
	return limit
}

func (b *backend) queueLen() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queue.Len()
}

// acquire picks a server, queueing up to timeout when every usable server is full. It
// returns the server with a slot taken and the time spent queued.
func (b *backend) acquire(key uint64, except *server, timeout time.Duration, quit <-chan struct{}) (*server, time.Duration, error) {
	return b.acquireReq(pickReq{key: key, except: except}, timeout, quit)
}

// acquireReq is acquire for any pick request (persistence, key-less hashing).
func (b *backend) acquireReq(r pickReq, timeout time.Duration, quit <-chan struct{}) (*server, time.Duration, error) {
	b.mu.Lock()
	if b.queue.Len() == 0 || r.want != nil {
		if s := b.pickLocked(r); s != nil {
			b.mu.Unlock()
			return s, 0, nil
		}
	}
	if r.want == nil && !b.anyUp() {
		b.mu.Unlock()
		return nil, 0, errNoServer
	}
	lim := b.queueLimit()
	if lim == 0 || (lim > 0 && b.queue.Len() >= lim) {
		b.mu.Unlock()
		b.queueFull.Add(1)
		return nil, 0, errQueueFull
	}
	w := &waiter{req: r, ch: make(chan *server, 1)}
	w.elem = b.queue.PushBack(w)
	b.mu.Unlock()
	start := time.Now()
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case s := <-w.ch:
		return s, time.Since(start), nil
	case <-tc:
	case <-quit:
	}
	b.mu.Lock()
	if w.elem != nil {
		b.queue.Remove(w.elem)
		w.elem = nil
		b.mu.Unlock()
		b.queueTimeouts.Add(1)
		return nil, time.Since(start), errQueueTime
	}
	b.mu.Unlock()
	// Served while timing out: keep the slot.
	return <-w.ch, time.Since(start), nil
}

// release gives a slot back and hands free slots to queued connections.
func (b *backend) release(s *server) {
	s.cur.Add(-1)
	if o := s.owner.Load(); o != nil && o != b {
		o.dispatch()
	}
	b.dispatch()
}

// dispatch serves queued connections while servers have free slots. A waiter bound to
// one server (persistence) that is still full does not hold up the others.
func (b *backend) dispatch() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for e := b.queue.Front(); e != nil; {
		w := e.Value.(*waiter)
		next := e.Next()
		s := b.pickLocked(w.req)
		if s == nil {
			if w.req.want == nil {
				return
			}
			e = next
			continue
		}
		b.queue.Remove(w.elem)
		w.elem = nil
		w.ch <- s
		e = next
	}
}

// key returns the balancing key of a connection.
func balanceKey(src netip.AddrPort) uint64 {
	return balance.KeyAddr(src.Addr())
}

// usable tells stick rules whether a stored server can take the connection: it exists,
// is up and not in maintenance (drain excluded too: it takes no new connections).
func (b *backend) usable(name string, _ int) bool {
	for _, s := range b.servers {
		if s.name == name {
			return s.available()
		}
	}
	return false
}

// acquireNamed takes a slot on the server a stick rule chose, or returns nil when it
// cannot take one right now (full, or others queued): balancing then decides.
func (b *backend) acquireNamed(name string) *server {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.queue.Len() > 0 {
		return nil
	}
	for _, s := range b.servers {
		if s.name == name {
			if !s.available() || s.full() {
				return nil
			}
			s.cur.Add(1)
			s.total.Add(1)
			return s
		}
	}
	return nil
}

// serverID is the server's HAProxy id (declaration order, from 1) stored as server_id.
func (b *backend) serverID(s *server) int {
	for i, x := range b.servers {
		if x == s {
			return i + 1
		}
	}
	return 0
}
