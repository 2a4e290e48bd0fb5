package proxy

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Status returns a snapshot of frontends, backends and servers.
func (p *Proxy) Status() Status {
	g := p.cur.Load()
	now := time.Now()
	st := Status{ActConn: p.actconn.Load(), Panics: p.panics.Load()}
	for _, fe := range g.frontends {
		fs := FrontendStatus{Name: fe.name, Cur: fe.cur.Load(), Total: fe.total.Load(), MaxConn: fe.limit.limit(),
			ProxyErrors: fe.proxyE.Load(), NoBackend: fe.noBE.Load(), BytesIn: fe.bytesI.Load(), BytesOut: fe.bytesO.Load(), LastReloaded: g.loaded,
			Mode: fe.cfg.Mode.String(), HTTP: fe.h.snapshot(), DeniedConn: fe.deniedConn.Load(), DeniedReq: fe.deniedReq.Load()}
		for _, b := range fe.cfg.Binds {
			fs.Binds = append(fs.Binds, b.Address)
		}
		st.Frontends = append(st.Frontends, fs)
	}
	for _, be := range g.order {
		bs := BackendStatus{Name: be.name, Algo: be.cfg.Balance.Algo, Cur: be.cur.Load(), Total: be.total.Load(),
			Queue: be.queueLen(), ConnErrors: be.connErrors.Load(), QueueTimeouts: be.queueTimeouts.Load(), QueueFull: be.queueFull.Load(),
			Mode: be.cfg.Mode.String(), HTTP: be.h.snapshot(), BytesIn: be.h.bytesI.Load(), BytesOut: be.h.bytesO.Load()}
		if bs.Algo == "" {
			bs.Algo = "roundrobin"
		}
		bs.ActiveUp, bs.BackupUp = be.upCounts()
		for _, s := range be.servers {
			ss := s.status(now)
			ss.HTTP, ss.BytesIn, ss.BytesOut = s.h.snapshot(), s.h.bytesI.Load(), s.h.bytesO.Load()
			if pl := s.httpPool(); pl != nil {
				ss.IdleConns = pl.Idle()
			}
			bs.Servers = append(bs.Servers, ss)
		}
		st.Backends = append(st.Backends, bs)
	}
	return st
}

type subscriber struct {
	ch      chan Event
	dropped atomic.Int64
}

// Subscribe returns a channel of server state changes and a function that ends the
// subscription. The channel is buffered; a subscriber that does not keep up loses
// events rather than slowing the data plane (Status gives the current truth).
func (p *Proxy) Subscribe() (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, 256)}
	p.subMu.Lock()
	p.subs[s] = struct{}{}
	p.subMu.Unlock()
	var once atomic.Bool
	return s.ch, func() {
		if once.Swap(true) {
			return
		}
		p.subMu.Lock()
		delete(p.subs, s)
		p.subMu.Unlock()
		close(s.ch)
	}
}

func (p *Proxy) emit(e Event) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	for s := range p.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

func (p *Proxy) findServer(backend, srv string) (*server, error) {
	g := p.cur.Load()
	be := g.backends[backend]
	if be == nil {
		return nil, fmt.Errorf("no such backend %q", backend)
	}
	for _, s := range be.servers {
		if s.name == srv {
			return s, nil
		}
	}
	return nil, fmt.Errorf("no such server %q in backend %q", srv, backend)
}

// SetServerState sets a server's admin state (ready, drain, maint), as `set server
// BE/SRV state` does. Maintenance stops its checks' effect and, with on-marked-down
// shutdown-sessions, kills its sessions.
func (p *Proxy) SetServerState(backend, srv string, st AdminState) error {
	s, err := p.findServer(backend, srv)
	if err != nil {
		return err
	}
	s.mu.Lock()
	prev := s.stateLocked()
	s.admin = st
	next := s.stateLocked()
	if prev != next {
		s.changed = time.Now()
	}
	s.mu.Unlock()
	if prev != next {
		p.transition(s, prev, next, "changed from CLI", "changed from CLI")
	}
	return nil
}

// SetServerWeight sets a server's weight at run time (0..256). Like the admin state, it
// is kept across reloads (servers are matched by backend and server name).
func (p *Proxy) SetServerWeight(backend, srv string, w int) error {
	if w < 0 || w > 256 {
		return fmt.Errorf("weight %d out of range (expected 0..256)", w)
	}
	s, err := p.findServer(backend, srv)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.wover = w
	s.mu.Unlock()
	if be := s.owner.Load(); be != nil {
		be.dispatch()
	}
	return nil
}
