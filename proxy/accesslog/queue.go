package accesslog

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// dropped counts lines lost because a target could not keep up (`show info`
// DroppedLogs, as HAProxy names it).
var dropped atomic.Int64

// Dropped returns the number of log lines dropped since the process started.
func Dropped() int64 { return dropped.Load() }

// queueLimit bounds the bytes waiting for one slow target. HAProxy drops a line
// when its log target would block; appl buffers this much first, then drops.
const queueLimit = 1 << 20

// closeWait bounds how long Close waits for queued lines to reach a stuck target.
const closeWait = time.Second

// queue decouples Send from a target that can block (stdout into a full pipe, a
// unix datagram socket whose reader is slow): the data plane, which logs from its
// event loops, must never wait for a log reader. Lines are copied into a pending
// buffer and written by one goroutine; when the pending bytes reach queueLimit
// the line is dropped and counted. Two buffers are swapped, so a steady stream
// of lines allocates nothing.
type queue struct {
	w        io.Writer
	datagram bool // one Write per line (each line is one syslog message)

	mu      sync.Mutex
	pending []byte
	lens    []int // line lengths in pending, for datagram targets
	spare   []byte
	spareL  []int
	closed  bool
	flushed []chan struct{} // closed once everything queued before is written
	wake    chan struct{}   // one slot: "pending is not empty", "closed" or a flush
	stopped chan struct{}
}

func newQueue(w io.Writer, datagram bool) *queue {
	q := &queue{w: w, datagram: datagram, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go q.run()
	return q
}

// Write queues one line. It never blocks on the target and always reports
// success: a dropped line is counted, not returned as an error.
func (q *queue) Write(b []byte) (int, error) {
	q.mu.Lock()
	if q.closed || len(q.pending)+len(b) > queueLimit {
		q.mu.Unlock()
		dropped.Add(1)
		return len(b), nil
	}
	wasEmpty := len(q.pending) == 0
	q.pending = append(q.pending, b...)
	q.lens = append(q.lens, len(b))
	q.mu.Unlock()
	if wasEmpty {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return len(b), nil
}

func (q *queue) run() {
	defer close(q.stopped)
	for range q.wake {
		for {
			q.mu.Lock()
			buf, lens, closed := q.pending, q.lens, q.closed
			var done []chan struct{}
			if len(buf) == 0 {
				done, q.flushed = q.flushed, nil
			} else {
				// The spare array becomes pending; buf becomes the spare
				// once written. Never swap an empty pending: pending and
				// spare would then share one array.
				q.pending, q.lens = q.spare[:0], q.spareL[:0]
				q.spare, q.spareL = nil, nil
			}
			q.mu.Unlock()
			if len(buf) == 0 {
				for _, c := range done {
					close(c)
				}
				if closed {
					return
				}
				break
			}
			if q.datagram {
				off := 0
				for _, n := range lens {
					q.w.Write(buf[off : off+n])
					off += n
				}
			} else {
				q.w.Write(buf)
			}
			q.mu.Lock()
			if cap(buf) <= 2*queueLimit {
				q.spare, q.spareL = buf[:0], lens[:0]
			}
			q.mu.Unlock()
		}
	}
}

// flush waits, at most closeWait, until the lines queued before it are
// written (shutdown of a shared stdout queue). It reports whether they were.
func (q *queue) flush() bool {
	c := make(chan struct{})
	q.mu.Lock()
	q.flushed = append(q.flushed, c)
	q.mu.Unlock()
	return q.wakeAndWait(c)
}

// close stops accepting lines and waits, at most closeWait, for the queued
// ones to be written. It reports whether the writer finished.
func (q *queue) close() bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return true
	}
	q.closed = true
	q.mu.Unlock()
	return q.wakeAndWait(q.stopped)
}

// wakeAndWait wakes the writer and waits, at most closeWait, for done.
func (q *queue) wakeAndWait(done <-chan struct{}) bool {
	select {
	case q.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
