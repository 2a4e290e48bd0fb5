package relay

import (
	"net"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"appl/proxy/evloop"
)

// Mode chooses how a relay waits for its sockets.
type Mode int8

const (
	// ModeDefault follows SetDefaultMode (initially ModeLoop, or ModeGoroutines when
	// the environment variable APPL_EVLOOP is "off" or "0").
	ModeDefault Mode = iota
	// ModeGoroutines: a goroutine per direction on Go's netpoller, parked after
	// ParkAfter (this file's siblings).
	ModeGoroutines
	// ModeLoop: the sockets leave Go's netpoller for one of package evloop's
	// level-triggered epoll loops; no goroutine per connection.
	ModeLoop
)

var defaultMode atomic.Int32

func init() {
	// The event loops are the default: in same-time A/B runs they cost 25-30 % less CPU
	// per request than goroutines (docs/dev/l4perf.md). APPL_EVLOOP=off is the way back.
	switch os.Getenv("APPL_EVLOOP") {
	case "off", "0":
		defaultMode.Store(int32(ModeGoroutines))
	default:
		defaultMode.Store(int32(ModeLoop))
	}
}

// SetDefaultMode sets what ModeDefault means for relays created from now on
// (ModeDefault itself: ModeLoop).
func SetDefaultMode(m Mode) {
	if m == ModeDefault {
		m = ModeLoop
	}
	defaultMode.Store(int32(m))
}

// DefaultMode reports what ModeDefault means now.
func DefaultMode() Mode { return Mode(defaultMode.Load()) }

func useLoop(m Mode) bool {
	if m == ModeDefault {
		m = DefaultMode()
	}
	return m == ModeLoop
}

// loopRelay is the state of a relay handed to package evloop.
type loopRelay struct {
	fd   [2]int
	conn atomic.Pointer[evloop.Conn]
	kill atomic.Uint32 // cause of a Kill that came before Run
}

// newLoop takes both sockets out of Go's netpoller for an event loop.
func newLoop(client, server *net.TCPConn, opt Options, done func(Result)) (*Relay, error) {
	cfd, err := evloop.Detach(client)
	if err != nil {
		return nil, err
	}
	sfd, err := evloop.Detach(server)
	if err != nil {
		closeFD(cfd)
		return nil, err
	}
	r := &Relay{opt: opt, done: done, lr: &loopRelay{fd: [2]int{cfd, sfd}}}
	return r, nil
}

func (r *Relay) runLoop() {
	lr := r.lr
	done := r.done
	c, err := evloop.Start(lr.fd[Client], lr.fd[Server], evloop.Options{Idle: r.opt.Idle, Fin: r.opt.Fin, OnPanic: r.opt.OnPanic}, done)
	if err != nil {
		closeFD(lr.fd[Client])
		closeFD(lr.fd[Server])
		if done != nil {
			done(Result{Cause: 'P'})
		}
		return
	}
	lr.conn.Store(c)
	if k := lr.kill.Load(); k != 0 {
		c.Kill(byte(k))
	}
}

func closeFD(fd int) { unix.Close(fd) }

// NewFD is New for a server socket dialed by evloop.Dial: the relay runs in ModeLoop
// whatever opt.Mode says, and owns server from now on (also on error).
func NewFD(client *net.TCPConn, server int, opt Options, done func(Result)) (*Relay, error) {
	cfd, err := evloop.Detach(client)
	if err != nil {
		closeFD(server)
		return nil, err
	}
	return &Relay{opt: opt, done: done, lr: &loopRelay{fd: [2]int{cfd, server}}}, nil
}

// NewFDs is New for two raw sockets (a client accepted with accept4, a server dialed by
// evloop.Dial or detached): the relay runs in ModeLoop and owns both from Run on.
func NewFDs(client, server int, opt Options, done func(Result)) *Relay {
	// One allocation for both parts (per connection, on the connection-per-request path).
	x := &struct {
		r  Relay
		lr loopRelay
	}{r: Relay{opt: opt, done: done}, lr: loopRelay{fd: [2]int{client, server}}}
	x.r.lr = &x.lr
	return &x.r
}
