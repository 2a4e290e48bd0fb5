package proxy

import (
	"errors"
	"fmt"
	"time"
)

// ErrNoFrontend and ErrNoSession answer runtime commands naming nothing that runs.
var (
	ErrNoFrontend = errors.New("no such frontend")
	ErrNoSession  = errors.New("no such session")
	// ErrUnchanged: every listener of the frontend was already in the asked state.
	ErrUnchanged = errors.New("frontend already in that state")
)

// DisableFrontend stops a frontend's listeners from accepting without closing their
// sockets (runtime `disable frontend`): new connections are refused, established ones
// go on. The pause lasts until EnableFrontend and survives reloads of the same binds.
func (p *Proxy) DisableFrontend(name string) error {
	return p.eachListener(name, (*listener).pause)
}

// EnableFrontend resumes a paused frontend on the same sockets.
func (p *Proxy) EnableFrontend(name string) error {
	return p.eachListener(name, (*listener).unpause)
}

func (p *Proxy) eachListener(name string, f func(*listener) (bool, error)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frontend(name) == nil {
		return ErrNoFrontend
	}
	var errs []error
	changed := false
	for _, l := range p.listeners {
		if fe := l.fe.Load(); fe != nil && fe.name == name {
			ch, err := f(l)
			if err != nil {
				errs = append(errs, err)
			}
			changed = changed || ch
		}
	}
	if len(errs) == 0 && !changed {
		return ErrUnchanged
	}
	return errors.Join(errs...)
}

func (p *Proxy) frontend(name string) *frontend {
	for _, fe := range p.cur.Load().frontends {
		if fe.name == name {
			return fe
		}
	}
	return nil
}

// SetFrontendMaxConn changes a frontend's maxconn until the next reload (0: unlimited).
func (p *Proxy) SetFrontendMaxConn(name string, n int) error {
	if n < 0 {
		return fmt.Errorf("maxconn %d out of range", n)
	}
	fe := p.frontend(name)
	if fe == nil {
		return ErrNoFrontend
	}
	fe.limit.setMax(n)
	return nil
}

// SetGlobalMaxConn changes the process-wide maxconn until the next reload changes it.
func (p *Proxy) SetGlobalMaxConn(n int) error {
	if n < 0 {
		return fmt.Errorf("maxconn %d out of range", n)
	}
	p.global.Load().setMax(n)
	return nil
}

// GlobalMaxConn is the process-wide maxconn in force (0: unlimited).
func (p *Proxy) GlobalMaxConn() int { return p.global.Load().limit() }

// SessionInfo describes one open connection (runtime `show sess`).
type SessionInfo struct {
	ID                uint64
	Src               string
	IPv6              bool
	Frontend          string
	Backend, Server   string // "" until chosen / connected
	Age               time.Duration
	BytesIn, BytesOut int64 // from the client, from the server (so far)
}

// Sessions lists the open connections, newest first.
func (p *Proxy) Sessions() []SessionInfo {
	now := time.Now()
	p.sessMu.Lock()
	defer p.sessMu.Unlock()
	var out []SessionInfo
	for x := p.sessions.head; x != nil; x = x.gnext {
		si := SessionInfo{ID: x.id, Frontend: x.fe.name, Age: now.Sub(x.accept)}
		// src (PROXY header), be and srv are written by the connection's goroutine; read
		// them through the relay, which is stored once they are set for good.
		src := x.clientAddr()
		if r := x.relay.Load(); r != nil {
			src = x.src
			si.Backend, si.Server = x.be.name, x.srv.name
			si.BytesIn, si.BytesOut = r.Bytes()
		} else if cr := x.crelay.Load(); cr != nil {
			src = x.src
			si.Backend, si.Server = x.be.name, x.srv.name
			si.BytesIn, si.BytesOut = cr.Bytes()
		}
		si.Src, si.IPv6 = src.String(), src.Addr().Is6()
		out = append(out, si)
	}
	return out
}

// ShutdownSession closes one connection (runtime `shutdown session`), logged as killed ('K').
func (p *Proxy) ShutdownSession(id uint64) error {
	p.sessMu.Lock()
	var found *session
	for x := p.sessions.head; x != nil; x = x.gnext {
		if x.id == id {
			found = x
			break
		}
	}
	if found == nil {
		p.sessMu.Unlock()
		return ErrNoSession
	}
	kill := found.killFunc()
	p.sessMu.Unlock()
	kill('K')
	return nil
}

// killFunc picks how session x is ended from another goroutine, by what serves it
// now: its relay (event loop or goroutines), its TLS relay, the http engine (which
// closes both sockets, also while it waits for a server), or, before any of
// them, its client socket. Called under p.sessMu; the result runs after unlocking.
func (x *session) killFunc() func(cause byte) {
	if r := x.relay.Load(); r != nil {
		return r.Kill
	}
	if cr := x.crelay.Load(); cr != nil {
		return cr.Kill
	}
	if cancel := x.cancel; cancel != nil {
		return func(byte) { cancel() }
	}
	return x.killClient
}
