package appliance

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"appl/appliance/admin"
	"appl/internal/cfgfile"
	"appl/proxy"
	"appl/proxy/runtime"
	"appl/vrrp"
)

// adminTarget is the node as the admin API sees it.
type adminTarget struct{ n *Node }

var _ admin.Target = adminTarget{}

func (a adminTarget) Status() admin.NodeStatus { return a.n.Status() }

func (a adminTarget) Demote(on bool) error {
	n := a.n
	n.mu.Lock()
	sp := n.speaker
	n.mu.Unlock()
	if sp == nil {
		return errors.New("this node runs no vrrp/carp instance")
	}
	if err := sp.Demote("", on); err != nil {
		return err
	}
	n.mu.Lock()
	n.demoted = on
	n.mu.Unlock()
	n.log.Info("vrrp demotion", zap.Bool("on", on))
	return nil
}

func (a adminTarget) Reload() admin.ReloadResult {
	cfg, err := a.n.ReloadFile()
	return reloadResult(cfg, err)
}

func (a adminTarget) CheckConfig(data []byte) admin.ReloadResult {
	cfg, err := a.n.decodeForNode(data, false)
	return reloadResult(cfg, err)
}

func (a adminTarget) Runtime(line string) string {
	a.n.mu.Lock()
	rt := a.n.rt
	a.n.mu.Unlock()
	if rt == nil {
		return "node not running\n"
	}
	if f := a.n.front; f != nil {
		return f.Exec(runtime.LevelAdmin, line)
	}
	return rt.Exec(runtime.LevelAdmin, line)
}

func (a adminTarget) Subscribe() (<-chan admin.Event, func()) { return a.n.Subscribe() }

func reloadResult(cfg *Config, err error) admin.ReloadResult {
	if err != nil {
		return admin.ReloadResult{Errors: errorLines(err)}
	}
	return admin.ReloadResult{OK: true, ConfigHash: cfg.Hash, Warnings: cfg.Warnings}
}

func errorLines(err error) []string {
	if es := cfgfile.AsErrors(err); es != nil {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

// decodeForNode decodes configuration bytes (nil: the running file re-read) and selects
// this node's block the way the running configuration was selected. live uses the
// node's map store (a reload); a check uses a store of its own so nothing live changes.
func (n *Node) decodeForNode(data []byte, live bool) (*Config, error) {
	cur := n.Config()
	path := cur.Path
	if data == nil {
		if cur.File == nil || !fileBacked(path) {
			return nil, errors.New("running the embedded default configuration: there is no file to re-read")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		data = b
	}
	store := n.opts.Maps
	if !live {
		store = nil
	}
	cfg, err := DecodeWith(path, data, store)
	if err != nil {
		return nil, err
	}
	name := ""
	if cur.Node != nil {
		name = cur.Node.Name
	}
	if err := cfg.Select(name, hostname()); err != nil {
		return nil, err
	}
	return cfg, nil
}

func fileBacked(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ReloadFile re-reads the running configuration's file, selects this node's block and
// applies it. An invalid file is refused and the running configuration keeps serving.
func (n *Node) ReloadFile() (*Config, error) {
	cfg, err := n.decodeForNode(nil, true)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		n.log.Warn(w)
	}
	if err := n.Reload(cfg); err != nil {
		return nil, err
	}
	n.feedChecks()
	n.attachStickSinks()
	return cfg, nil
}

// Status is this node's status for the admin API.
func (n *Node) Status() admin.NodeStatus {
	n.mu.Lock()
	cfg, p, sp, ready, demoted, started := n.cfg, n.proxy, n.speaker, n.ready, n.demoted, n.started
	n.mu.Unlock()
	st := admin.NodeStatus{Node: cfg.NodeName(), Hostname: hostname(), Version: n.opts.Version, ConfigPath: cfg.Path,
		ConfigHash: cfg.Hash, Started: started, Ready: ready, Demoted: demoted, Replication: n.replicationStatus(),
		VRRP: []admin.Instance{}, Backends: []admin.Backend{}, Checks: []admin.CheckStatus{}}
	if !started.IsZero() {
		st.UptimeSec = time.Since(started).Round(time.Millisecond).Seconds()
	}
	up := map[string]int{}
	if p != nil {
		for _, be := range p.Status().Backends {
			b := admin.Backend{Name: be.Name, Up: be.ActiveUp + be.BackupUp, ActiveUp: be.ActiveUp, BackupUp: be.BackupUp}
			for _, s := range be.Servers {
				b.Servers = append(b.Servers, admin.ServerStatus{Name: s.Name, Address: s.Address, State: string(s.State), Admin: s.Admin.String(),
					Backup: s.Backup, CheckStatus: s.CheckStatus, LastCheck: s.LastCheck, LastChange: s.LastChange})
			}
			up[be.Name] = b.Up
			st.Backends = append(st.Backends, b)
		}
	}
	for _, c := range cfg.Admin.Checks {
		u := up[c.Backend]
		st.Checks = append(st.Checks, admin.CheckStatus{Name: c.Name, Backend: c.Backend, MinUp: c.MinUp, Up: u, OK: p != nil && u >= c.MinUp})
	}
	if sp != nil {
		for _, in := range sp.Status() {
			st.VRRP = append(st.VRRP, admin.Instance{Name: in.Name, Kind: in.Kind, Interface: in.Interface, VRID: in.VRID, State: in.State,
				Priority: in.Priority, EffectivePriority: in.EffectivePriority, Demoted: in.Demoted, Since: in.Since, VIPs: in.VIPs, Master: in.Master})
		}
	}
	return st
}

// Subscribe merges VRRP and server events for the admin API's stream.
func (n *Node) Subscribe() (<-chan admin.Event, func()) {
	n.mu.Lock()
	p, sp := n.proxy, n.speaker
	n.mu.Unlock()
	out := make(chan admin.Event, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	send := func(ev admin.Event) {
		select {
		case out <- ev:
		case <-stop:
		default: // a slow reader loses events rather than holding the node up
		}
	}
	if p != nil {
		ch, cancel := p.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			forwardEvents(ch, cancel, stop, send, func(e proxy.Event) admin.Event {
				return admin.Event{Time: e.Time, Kind: "server", Backend: e.Backend, Server: e.Server, From: string(e.From), To: string(e.To), Reason: e.Reason, ActiveUp: e.ActiveUp}
			})
		}()
	}
	if sp != nil {
		ch, cancel := sp.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			forwardEvents(ch, cancel, stop, send, func(e vrrp.Event) admin.Event {
				return admin.Event{Time: e.Time, Kind: "vrrp", Instance: e.Instance, From: e.From, To: e.To, Priority: e.Priority}
			})
		}()
	}
	var once sync.Once
	return out, func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			close(out)
		})
	}
}

// forwardEvents relays one subscription into the merged stream until stop or until the
// source closes, then ends the subscription.
func forwardEvents[E any](ch <-chan E, cancel func(), stop <-chan struct{}, send func(admin.Event), conv func(E) admin.Event) {
	defer cancel()
	for {
		select {
		case <-stop:
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			send(conv(e))
		}
	}
}

// feedChecks evaluates every `check` line against the proxy's backends and hands the
// results to the speaker (`track-check NAME`).
func (n *Node) feedChecks() {
	n.mu.Lock()
	cfg, p, sp := n.cfg, n.proxy, n.speaker
	n.mu.Unlock()
	if p == nil || sp == nil || len(cfg.Admin.Checks) == 0 {
		return
	}
	up := map[string]int{}
	for _, be := range p.Status().Backends {
		up[be.Name] = be.ActiveUp + be.BackupUp
	}
	n.checkMu.Lock()
	defer n.checkMu.Unlock()
	for _, c := range cfg.Admin.Checks {
		ok := up[c.Backend] >= c.MinUp
		if prev, seen := n.checkState[c.Name]; !seen || prev != ok {
			n.log.Info("tracked check", zap.String("check", c.Name), zap.String("backend", c.Backend), zap.Int("up", up[c.Backend]), zap.Int("min_up", c.MinUp), zap.Bool("ok", ok))
		}
		n.checkState[c.Name] = ok
		sp.SetCheck(c.Name, ok)
	}
}

// watchChecks re-evaluates the checks on every server event until stop is closed.
func (n *Node) watchChecks(p *proxy.Proxy, stop <-chan struct{}) {
	ch, cancel := p.Subscribe()
	defer cancel()
	for {
		select {
		case <-stop:
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			n.feedChecks()
		}
	}
}

// startAdmin opens the admin unix socket and, when configured, HTTPS. A listener that
// cannot be opened is logged and skipped: the node keeps running what it can.
func (n *Node) startAdmin() *admin.Server {
	a := n.cfg.Admin
	if n.opts.AdminSocket != "" {
		a.Socket = n.opts.AdminSocket
	}
	opts := admin.Options{Token: a.Token, Log: n.log.Named("admin")}
	if a.Peer != "" {
		c, err := admin.NewHTTPSClient(a.Peer, a.Token, a.CA)
		if err != nil {
			n.log.Error("admin peer client", zap.Error(err))
		} else {
			opts.Peer = c
		}
	}
	srv := admin.New(adminTarget{n}, opts)
	if a.Socket != "" && a.Socket != "none" {
		l, err := admin.ListenUnix(a.Socket)
		if err != nil {
			n.log.Error("admin socket not opened; applctl cannot reach this node", zap.String("socket", a.Socket), zap.Error(err))
		} else {
			n.log.Info("admin API listening", zap.String("socket", a.Socket))
			go func() { _ = srv.Serve(l, nil) }()
		}
	}
	if a.Bind != "" {
		host, _, _ := net.SplitHostPort(a.Bind)
		tc, err := admin.TLSConfig(a.Crt, a.Key, a.DataDir, []string{host, hostname()})
		if err == nil {
			var l net.Listener
			l, err = net.Listen("tcp", a.Bind)
			if err == nil {
				n.log.Info("admin API listening (HTTPS, token required)", zap.String("addr", a.Bind))
				go func() { _ = srv.Serve(l, tc) }()
			}
		}
		if err != nil {
			n.log.Error("admin HTTPS not opened", zap.String("addr", a.Bind), zap.Error(err))
		}
	}
	return srv
}
