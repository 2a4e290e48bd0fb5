package relay

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Parking: a direction idle for ParkAfter leaves Go's netpoller and its goroutine ends;
// its socket waits in one shared epoll set (one-shot), and readiness, a timeout or a kill
// starts a fresh goroutine for it. An idle proxied connection then costs its sockets and
// a few hundred bytes of state instead of two goroutine stacks (2 KiB each at least).
// Busy connections never park: the deadline that triggers parking is re-armed lazily,
// at most once per ParkAfter, so the forwarding path has no extra system call.

// DefaultParkAfter is used when Options.ParkAfter is zero.
const DefaultParkAfter = 250 * time.Millisecond

type parkedDir struct {
	r    *Relay
	side int
}

type parker struct {
	once sync.Once
	epfd int
	err  error
	mu   sync.Mutex
	byID map[uint64]parkedDir
	next uint64
	n    atomic.Int64
}

var parking parker

// Parked reports how many directions are parked now (tests, status).
func Parked() int64 { return parking.n.Load() }

func (p *parker) start() error {
	p.once.Do(func() {
		p.epfd, p.err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if p.err != nil {
			return
		}
		p.byID = map[uint64]parkedDir{}
		go p.loop()
	})
	return p.err
}

func (p *parker) loop() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for i := 0; i < n; i++ {
			id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			p.mu.Lock()
			d, ok := p.byID[id]
			p.mu.Unlock()
			if ok {
				d.r.unpark(d.side, true)
			}
		}
	}
}

// park hands direction side (waiting to read from side) to the shared epoll set. It
// returns false when parking is not possible; the caller then keeps waiting itself.
func (r *Relay) park(side int) bool {
	if parking.start() != nil {
		return false
	}
	parking.mu.Lock()
	parking.next++
	id := parking.next
	parking.byID[id] = parkedDir{r, side}
	parking.mu.Unlock()
	r.parkID[side] = id
	// Wake up for the idle timeout even if nothing arrives. The timer and the id are
	// written before parked is set, and read only by whoever clears it.
	r.timer[side] = nil
	if d, _ := r.idle(side); d > 0 {
		wait := time.Until(time.Unix(0, r.last.Load()).Add(d))
		r.timer[side] = time.AfterFunc(max(wait, 0), func() { r.unpark(side, true) })
	}
	r.parked[side].Store(true)
	parking.n.Add(1)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	var cerr error
	err := r.rc[side].Control(func(fd uintptr) {
		cerr = unix.EpollCtl(parking.epfd, unix.EPOLL_CTL_MOD, int(fd), &ev)
		if cerr == unix.ENOENT {
			cerr = unix.EpollCtl(parking.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
		}
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		// Closed meanwhile, or epoll refused: resume in the caller's goroutine if
		// nobody else took the direction over.
		if r.parked[side].CompareAndSwap(true, false) {
			if t := r.timer[side]; t != nil {
				t.Stop()
			}
			parking.forget(id)
			return false
		}
		return true
	}
	// A kill that came while we were registering must not be missed.
	if r.cause.Load() != 0 {
		r.unpark(side, true)
	}
	return true
}

func (p *parker) forget(id uint64) {
	p.mu.Lock()
	delete(p.byID, id)
	p.mu.Unlock()
	p.n.Add(-1)
}

// unpark takes a parked direction back (once, whoever comes first) and runs it again
// in a new goroutine.
func (r *Relay) unpark(side int, resume bool) bool {
	if !r.parked[side].CompareAndSwap(true, false) {
		return false
	}
	if t := r.timer[side]; t != nil {
		t.Stop()
	}
	parking.forget(r.parkID[side])
	if resume {
		go r.run(side)
	}
	return true
}
