package evloop

import (
	"container/heap"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loop is one epoll set with the connections it relays. Only its goroutine touches the
// connections' state, the timer heap and the caches; other goroutines hand it new
// connections and kills through the mutex-protected queues and wake it by the eventfd.
type loop struct {
	epfd, evfd int
	file       *os.File // epfd, for Go's netpoller
	rc         syscall.RawConn
	conns      map[int32]*Conn
	timers     timerHeap
	bufs       []*[]byte
	pipes      []*pipe
	now        int64

	mu       sync.Mutex
	incoming []*Conn
	kills    []*Conn
	spare    []*Conn // the last incoming slice, emptied, for the next one (no allocation per connection)
	// sleepUntil is when the loop will look at its timers next if nothing happens
	// (unix ns, MaxInt64: never); 0 while it is awake and will read the queues before
	// sleeping again. A new connection due earlier moves the wake-up closer.
	sleepUntil int64
	// deadline is the read deadline armed on file (unix ns, 0: none). Set under mu by
	// the loop and by add.
	deadline int64
	woken    bool // a wake-up is pending on evfd
	dials    map[int32]chan struct{}
	dialSeq  int32
}

var (
	loopsOnce sync.Once
	loops     []*loop
	loopsErr  error
	nextLoop  atomic.Uint32
	active    atomic.Int64
)

// Active reports how many connections the loops relay now (tests, status).
func Active() int64 { return active.Load() }

func startLoops() error {
	loopsOnce.Do(func() {
		n := runtime.GOMAXPROCS(0)
		for i := 0; i < n; i++ {
			l, err := newLoop()
			if err != nil {
				loopsErr = err
				return
			}
			loops = append(loops, l)
			go l.run()
		}
	})
	return loopsErr
}

func pickLoop() *loop {
	return loops[int(nextLoop.Add(1))%len(loops)]
}

func newLoop() (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	// Non-blocking, so that os.NewFile hands the epoll descriptor to Go's netpoller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "evloop")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(evfd)
		return nil, err
	}
	return &loop{epfd: epfd, evfd: evfd, file: f, rc: rc, conns: map[int32]*Conn{}, sleepUntil: math.MaxInt64}, nil
}

// add hands a connection whose sockets are already in the epoll set to the loop. Its
// sockets' events wake the loop, which then takes it in; a loop that would sleep past
// the connection's first deadline gets its wake-up moved closer, without being woken
// now (an eventfd write and a wake-up per connection on an otherwise idle loop).
func (l *loop) add(c *Conn, firstDeadline int64) {
	l.mu.Lock()
	l.incoming = append(l.incoming, c)
	if firstDeadline != 0 && l.sleepUntil != 0 && firstDeadline < l.sleepUntil {
		l.sleepUntil = firstDeadline
		l.setDeadline(firstDeadline)
	}
	l.mu.Unlock()
}

// setDeadline arms the loop's wake-up at unix ns at (0: none); l.mu is held.
func (l *loop) setDeadline(at int64) {
	l.deadline = at
	if at == 0 {
		l.file.SetReadDeadline(time.Time{})
	} else {
		l.file.SetReadDeadline(time.Unix(0, at))
	}
}

func (l *loop) kill(c *Conn) {
	l.mu.Lock()
	l.kills = append(l.kills, c)
	wake := l.sleepUntil != 0 && !l.woken
	if wake {
		l.woken = true
	}
	l.mu.Unlock()
	if wake {
		l.wake()
	}
}

func (l *loop) wake() {
	one := [8]byte{1}
	rawWrite(l.evfd, one[:])
}

// takeQueues moves new connections into the loop and returns pending kills.
func (l *loop) takeQueues() []*Conn {
	l.mu.Lock()
	in, kills := l.incoming, l.kills
	l.incoming, l.kills = l.spare, nil
	l.mu.Unlock()
	for _, c := range in {
		if c.dead {
			continue
		}
		l.conns[int32(c.fd[Client])] = c
		l.conns[int32(c.fd[Server])] = c
		c.arm()
	}
	clear(in)
	l.spare = in[:0]
	return kills
}

// run waits through Go's netpoller, not in a blocking epoll_wait: the epoll set's own
// descriptor is readable while any of its sockets is ready, so the loop goroutine parks
// like any network goroutine and a loop costs no thread or processor hand-off of its
// own. epoll_wait itself is only called with a zero timeout.
func (l *loop) run() {
	events := make([]unix.EpollEvent, 256)
	n := 0
	var werr error
	poll := func(uintptr) bool {
		n, werr = rawEpollPoll(l.epfd, events)
		if werr != nil {
			n = 0
			return true // look again rather than wait for an edge that already passed
		}
		return n != 0
	}
	for {
		l.now = time.Now().UnixNano()
		l.expire()
		for _, c := range l.takeQueues() {
			if !c.dead {
				c.abort(byte(c.cause.Load()))
			}
		}
		l.mu.Lock()
		if len(l.incoming) > 0 || len(l.kills) > 0 {
			l.mu.Unlock()
			continue
		}
		// The wake-up moves only closer: one armed earlier than the first timer (its
		// connection ended) costs a wake-up that re-files the heap, cheaper than
		// re-arming whenever the first connection of the heap changes.
		want := l.deadline
		if want != 0 && want <= l.now {
			want = 0 // fired
		}
		if len(l.timers) > 0 {
			if at := l.timers[0].hat; want == 0 || at < want {
				want = at
			}
		}
		if want != l.deadline {
			l.setDeadline(want)
		}
		l.sleepUntil = math.MaxInt64
		if want != 0 {
			l.sleepUntil = want
		}
		l.mu.Unlock()
		err := l.rc.Read(poll)
		l.mu.Lock()
		l.sleepUntil = 0
		l.mu.Unlock()
		if err != nil {
			// The deadline: look at the timers. Anything else cannot happen while the
			// file stays open.
			n = 0
			continue
		}
		if werr != nil && werr != unix.EINTR {
			// Cannot happen with a valid epoll descriptor and buffer; never spin on it.
			time.Sleep(10 * time.Millisecond)
		}
		l.now = time.Now().UnixNano()
		for i := 0; i < n; i++ {
			fd := events[i].Fd
			if fd == -1 {
				l.dialReady(events[i].Pad)
				continue
			}
			if int(fd) == l.evfd {
				var b [8]byte
				rawRead(l.evfd, b[:])
				l.mu.Lock()
				l.woken = false
				l.mu.Unlock()
				continue
			}
			c := l.conns[fd]
			if c == nil {
				// Registered by another goroutine a moment ago: take it in. A stale
				// event of a socket closed earlier in this batch finds nothing and is
				// dropped; level triggering reports anything real again.
				for _, k := range l.takeQueues() {
					if !k.dead {
						k.abort(byte(k.cause.Load()))
					}
				}
				if c = l.conns[fd]; c == nil {
					continue
				}
			}
			c.event(int(fd), events[i].Events)
		}
	}
}

// expire ends the connections whose idle limit passed and re-files the others at their
// real deadline (activity moves deadlines without touching the heap).
func (l *loop) expire() {
	for len(l.timers) > 0 && l.timers[0].hat <= l.now {
		c := heap.Pop(&l.timers).(*Conn)
		at, who := c.st.deadline()
		switch {
		case at == 0:
		case at <= l.now:
			c.abort(who)
		default:
			c.hat = at
			heap.Push(&l.timers, c)
		}
	}
}

// timerHeap orders connections by the time to look at them again.
type timerHeap []*Conn

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].hat < h[j].hat }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}
func (h *timerHeap) Push(x any) {
	c := x.(*Conn)
	c.hidx = len(*h)
	*h = append(*h, c)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	c := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	c.hidx = -1
	return c
}
