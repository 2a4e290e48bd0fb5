package httpmode

import (
	"context"
	"sync"
	"time"
)

// Drainer may be implemented by an Env. Once the context Draining returns is done (the
// data plane stops accepting: soft stop, SIGTERM), a session that is idle between two
// requests closes at once instead of waiting for timeout http-keep-alive, and a
// response in progress announces Connection: close and ends the connection, as
// HAProxy does on a soft stop. Requests in progress are served to the end.
type Drainer interface {
	Draining() context.Context
}

// drainState is the handshake between a session waiting for its next request and the
// drain signal, which runs on another goroutine. It is allocated per Serve (only when
// the Env is a Drainer) so that a late signal never touches a reused session.
type drainState struct {
	mu       sync.Mutex
	c        interface{ SetReadDeadline(time.Time) error }
	idle     bool // waiting for the first byte of the next request
	draining bool
	done     bool // Serve returned: c may be closed or reused
	stop     func() bool
}

func (d *drainState) signal() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return
	}
	d.draining = true
	if d.idle {
		d.c.SetReadDeadline(time.Now()) // the idle wait ends: no log, as a keep-alive timeout
	}
}

// enterIdle is called with the keep-alive deadline already armed; false: draining,
// close now.
func (d *drainState) enterIdle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return false
	}
	d.idle = true
	return true
}

func (d *drainState) leaveIdle() {
	d.mu.Lock()
	d.idle = false
	d.mu.Unlock()
}

// startDrain notes the Env's drain signal, if any. Nothing is registered yet: a
// session only needs to be woken by the signal while it waits idle for its next
// request (enterIdle), and a connection that carries one request never does. Before
// that, draining() looks at the signal directly. (Registering every session at once
// cost a lock of the one shared context and a few allocations per connection.)
func (s *session) startDrain(env Env) {
	s.dr, s.drainCtx, s.drainDone = nil, nil, nil
	dr, ok := env.(Drainer)
	if !ok {
		return
	}
	ctx := dr.Draining()
	if ctx == nil {
		return
	}
	s.drainCtx, s.drainDone = ctx, ctx.Done()
}

// draining reports whether the drain signal came (a soft stop began).
func (s *session) draining() bool {
	if s.drainDone == nil {
		return false
	}
	select {
	case <-s.drainDone:
		return true
	default:
		return false
	}
}

// idleDrain returns the session's registration with the drain signal, made on first
// use; nil without a signal.
func (s *session) idleDrain() *drainState {
	if s.dr == nil && s.drainCtx != nil {
		d := &drainState{c: s.c}
		d.stop = context.AfterFunc(s.drainCtx, d.signal)
		s.dr = d
	}
	return s.dr
}

// endDrain unregisters; a signal running concurrently sees done and does nothing.
func (s *session) endDrain() {
	if d := s.dr; d != nil {
		d.stop()
		d.mu.Lock()
		d.done = true
		d.mu.Unlock()
		s.dr = nil
	}
	s.drainCtx, s.drainDone = nil, nil
}
