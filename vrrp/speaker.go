package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"appl/vrrp/fsm"
	"appl/vrrp/packet"
)

// Options tune a Speaker beyond its configuration.
type Options struct {
	// Namespace runs the speaker's sockets, netlink and link monitoring in the named
	// network namespace (as `ip netns` names it); "" is the process's own. Notify hooks
	// and scripts then run through `ip netns exec`.
	Namespace string
	// HookTimeout bounds notify hooks (default 30s).
	HookTimeout time.Duration
}

// Event is a state change of an instance, published to subscribers.
type Event struct {
	Instance string
	Group    string // "" when the instance is in no group
	From, To string // INIT, BACKUP, MASTER, FAULT
	Priority int    // effective priority (VRRP) when the change happened
	Time     time.Time
}

// InstanceStatus is a snapshot of one instance.
type InstanceStatus struct {
	Name              string
	Kind              string // "vrrp" or "carp"
	Interface         string
	VMAC              string // the macvlan carrying the VIPs (use-vmac), "" without
	VRID              int
	State             string
	Priority          int // configured
	EffectivePriority int // after tracking and demotion (VRRP)
	Demote            int // CARP demotion counter in effect
	Demoted           bool
	Since             time.Time
	VIPs              []string
	Master            string // address of the master last heard, ours when master
	Counters          Counters
}

// Counters count packets sent, received and dropped, by drop reason.
type Counters struct {
	RxAdverts, TxAdverts, TxErrors uint64
	BadTTL, BadChecksum, BadLength, BadVersion, BadType, BadAuth, BadInterval,
	BadAddrFamily, Malformed, UnknownID, IntervalMismatch, NotPeer uint64
	// AddressMismatch counts adverts whose VIP list differs from ours; they are
	// logged and still acted on (keepalived #1515).
	AddressMismatch uint64
	VIPErrors       uint64
}

func (c *Counters) add(o Counters) {
	c.RxAdverts += o.RxAdverts
	c.TxAdverts += o.TxAdverts
	c.TxErrors += o.TxErrors
	c.BadTTL += o.BadTTL
	c.BadChecksum += o.BadChecksum
	c.BadLength += o.BadLength
	c.BadVersion += o.BadVersion
	c.BadType += o.BadType
	c.BadAuth += o.BadAuth
	c.BadInterval += o.BadInterval
	c.BadAddrFamily += o.BadAddrFamily
	c.Malformed += o.Malformed
	c.UnknownID += o.UnknownID
	c.IntervalMismatch += o.IntervalMismatch
	c.NotPeer += o.NotPeer
	c.AddressMismatch += o.AddressMismatch
	c.VIPErrors += o.VIPErrors
}

// countDecodeError maps a codec error to its counter.
func (c *Counters) countDecodeError(err error) {
	switch {
	case errors.Is(err, packet.ErrChecksum):
		c.BadChecksum++
	case errors.Is(err, packet.ErrLength), errors.Is(err, packet.ErrShort):
		c.BadLength++
	case errors.Is(err, packet.ErrVersion):
		c.BadVersion++
	case errors.Is(err, packet.ErrType):
		c.BadType++
	case errors.Is(err, packet.ErrAuth), errors.Is(err, packet.ErrAuthType):
		c.BadAuth++
	case errors.Is(err, packet.ErrInterval):
		c.BadInterval++
	case errors.Is(err, packet.ErrAddrFamily):
		c.BadAddrFamily++
	default:
		c.Malformed++
	}
}

// Speaker runs every VRRP/CARP instance of a configuration.
type Speaker struct {
	log  *zap.Logger
	opts Options

	// Everything below ctl is owned by the Run loop goroutine.
	ctl       chan func()
	poke      chan struct{}
	cfg       *Config
	insts     []*instance
	byID      map[idKey]*instance
	groups    map[string][]*instance
	socks     map[sockKey]*ifSocket
	links     map[string]bool // interface name -> running
	global    Counters        // drops not attributable to an instance
	nio       *netIO
	running   bool
	propagate bool

	mu       sync.Mutex
	checks   map[string]bool
	demoted  map[string]bool // instance name or "" for all
	status   []InstanceStatus
	totals   Counters
	subs     map[int]chan Event
	nextSub  int
	dropped  uint64
	runState int // 0 not started, 1 running, 2 finished
}

type idKey struct {
	ifindex int
	fam     int
	proto   fsm.Proto
	id      uint8
}

// New validates cfg and prepares a speaker; nothing touches the network before Run.
func New(cfg *Config, log *zap.Logger, opts Options) (*Speaker, error) {
	if cfg == nil {
		return nil, errors.New("vrrp: nil config")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = 30 * time.Second
	}
	s := &Speaker{
		log: log, opts: opts, cfg: cfg,
		ctl: make(chan func(), 256), poke: make(chan struct{}, 1),
		byID: map[idKey]*instance{}, groups: map[string][]*instance{}, socks: map[sockKey]*ifSocket{},
		links: map[string]bool{}, checks: map[string]bool{}, demoted: map[string]bool{}, subs: map[int]chan Event{},
	}
	for _, in := range cfg.Instances {
		s.status = append(s.status, InstanceStatus{Name: in.Name, Kind: kindOf(in), Interface: in.Interface,
			VRID: in.VRID, State: fsm.Init.String(), Priority: in.Priority, EffectivePriority: in.Priority, VIPs: vipStrings(in)})
	}
	return s, nil
}

func kindOf(in *Instance) string {
	if in.Proto == fsm.CARP {
		return "carp"
	}
	return "vrrp"
}

func vipStrings(in *Instance) []string {
	var out []string
	for _, v := range in.Addresses {
		out = append(out, v.Prefix.String())
	}
	return out
}

// Status returns a snapshot of every instance.
func (s *Speaker) Status() []InstanceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.status)
}

// Counters returns the totals over all instances plus drops no instance claimed
// (unknown VRID, wrong TTL before lookup).
func (s *Speaker) Counters() Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.totals
}

// Subscribe returns a stream of state changes and a function that ends it. Events are
// dropped, not queued without bound, when a subscriber does not keep up.
func (s *Speaker) Subscribe() (<-chan Event, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextSub
	s.nextSub++
	ch := make(chan Event, 64)
	s.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, id)
			s.mu.Unlock()
			close(ch)
		})
	}
}

func (s *Speaker) publish(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- ev:
		default:
			s.dropped++
		}
	}
}

// SetCheck feeds a built-in tracked check (`track-check NAME`). A check never set counts
// as passing, so a speaker run alone is not held down by checks nobody feeds.
func (s *Speaker) SetCheck(name string, ok bool) {
	s.mu.Lock()
	s.checks[name] = ok
	s.mu.Unlock()
	s.kick()
}

func (s *Speaker) checkOK(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, set := s.checks[name]
	return ok || !set
}

// Demote lowers an instance ("" for all) so the peer takes over: a master sends a
// priority 0 advertisement and becomes backup with priority 1 (CARP: demotion counter
// raised). Demote(name, false) restores it; it preempts back if configured to.
func (s *Speaker) Demote(name string, on bool) error {
	if name != "" && !s.hasInstance(name) {
		return fmt.Errorf("vrrp: no instance %q", name)
	}
	s.mu.Lock()
	if on {
		s.demoted[name] = true
	} else {
		delete(s.demoted, name)
		if name == "" {
			clear(s.demoted)
		}
	}
	s.mu.Unlock()
	s.kick()
	return nil
}

func (s *Speaker) isDemoted(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.demoted[name] || s.demoted[""]
}

func (s *Speaker) hasInstance(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.status, func(st InstanceStatus) bool { return st.Name == name })
}

func (s *Speaker) kick() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Reload applies a new configuration while running. Instances whose identity
// (protocol, interface, id, version, addresses, authentication, peers) is unchanged keep
// their state and take the new priority, tracking, hooks and timers; the others are
// stopped as on shutdown (priority 0, VIPs removed) and new ones started.
func (s *Speaker) Reload(cfg *Config) error {
	errc := make(chan error, 1)
	select {
	case s.ctl <- func() { errc <- s.reload(cfg) }:
	case <-time.After(5 * time.Second):
		return errors.New("vrrp: reload: speaker not running")
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("vrrp: reload timed out")
	}
}

// Run starts every instance and blocks until ctx ends; then it sends priority 0
// advertisements, removes its VIPs and returns.
func (s *Speaker) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.runState != 0 {
		s.mu.Unlock()
		return errors.New("vrrp: Run called twice")
	}
	s.runState = 1
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.runState = 2
		s.mu.Unlock()
	}()

	nio, err := openNetIO(s)
	if err != nil {
		return err
	}
	s.nio = nio
	defer nio.close()
	for _, c := range s.cfg.Instances {
		in, err := s.addInstance(c)
		if err != nil {
			s.shutdownAll()
			return err
		}
		s.insts = append(s.insts, in)
	}
	s.rebuildGroups()
	s.running = true
	for _, in := range s.insts {
		s.startInstance(in)
	}
	s.snapshot()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := s.nextDeadline()
		wait := time.Until(next)
		if next.IsZero() {
			wait = time.Hour
		}
		if wait < 0 {
			wait = 0
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			s.shutdownAll()
			s.snapshot()
			return nil
		case f := <-s.ctl:
			f()
		case <-s.poke:
			s.recompute()
		case <-timer.C:
			s.timers(time.Now())
		}
		s.snapshot()
	}
}

func (s *Speaker) nextDeadline() time.Time {
	var next time.Time
	min := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, in := range s.insts {
		min(in.st.Deadline())
		min(in.garpAt)
		min(in.refreshAt)
	}
	return next
}

func (s *Speaker) timers(now time.Time) {
	for _, in := range s.insts {
		if d := in.st.Deadline(); !d.IsZero() && !now.Before(d) {
			s.step(in, fsm.Event{Kind: fsm.EvTimer})
		}
		if !in.garpAt.IsZero() && !now.Before(in.garpAt) {
			in.garpAt = time.Time{}
			if in.st.Role == fsm.Master {
				s.announce(in)
			}
		}
		if !in.refreshAt.IsZero() && !now.Before(in.refreshAt) {
			in.refreshAt = time.Time{}
			if in.st.Role == fsm.Master {
				s.announce(in)
				in.refreshAt = now.Add(in.cfg.GARPRefresh)
			}
		}
	}
}

func (s *Speaker) snapshot() {
	st := make([]InstanceStatus, 0, len(s.insts))
	tot := s.global
	for _, in := range s.insts {
		tot.add(in.cnt)
		master := ""
		if in.st.MasterAddr.IsValid() {
			master = in.st.MasterAddr.String()
		}
		vmac := ""
		if in.vmac != nil {
			vmac = in.vmac.Name
		}
		st = append(st, InstanceStatus{Name: in.cfg.Name, Kind: kindOf(in.cfg), Interface: in.cfg.Interface, VMAC: vmac, VRID: in.cfg.VRID,
			State: in.st.Role.String(), Priority: in.cfg.Priority, EffectivePriority: in.params.Priority, Demote: in.params.Demote,
			Demoted: in.demoted, Since: in.st.Since, VIPs: vipStrings(in.cfg), Master: master, Counters: in.cnt})
	}
	s.mu.Lock()
	s.status, s.totals = st, tot
	s.mu.Unlock()
}

// post runs f on the loop unless the speaker is stopping.
func (s *Speaker) post(done <-chan struct{}, f func()) {
	select {
	case s.ctl <- f:
	case <-done:
	}
}

func (s *Speaker) shutdownAll() {
	for _, in := range s.insts {
		s.step(in, fsm.Event{Kind: fsm.EvShutdown})
		// VIPs are removed whatever the state, so nothing outlives the process.
		s.removeVIPs(in)
		s.dropVMAC(in)
	}
	s.running = false
}

// sameIdentity reports whether a reloaded instance can keep its state.
func sameIdentity(a, b *Instance) bool {
	return a.Proto == b.Proto && a.Interface == b.Interface && a.VRID == b.VRID && a.Version == b.Version &&
		a.AuthPass == b.AuthPass && a.Pass == b.Pass && a.V3ChecksumAsV2 == b.V3ChecksumAsV2 &&
		slices.Equal(a.Addresses, b.Addresses) && slices.Equal(a.UnicastPeers, b.UnicastPeers) && a.UnicastSrc == b.UnicastSrc &&
		a.Interval == b.Interval && a.AdvBase == b.AdvBase &&
		a.UseVMAC == b.UseVMAC && a.VMACName == b.VMACName && a.VMACXmitBase == b.VMACXmitBase
}

func (s *Speaker) reload(cfg *Config) error {
	old := map[string]*instance{}
	for _, in := range s.insts {
		old[in.cfg.Name] = in
	}
	var keep []*instance
	var added []*instance
	seen := map[string]bool{}
	for _, c := range cfg.Instances {
		seen[c.Name] = true
		if in := old[c.Name]; in != nil && sameIdentity(in.cfg, c) {
			in.stopScripts()
			in.cfg = c
			in.startScripts(s)
			keep = append(keep, in)
			continue
		}
		if in := old[c.Name]; in != nil {
			s.dropInstance(in)
		}
		in, err := s.addInstance(c)
		if err != nil {
			return err
		}
		added = append(added, in)
	}
	for name, in := range old {
		if !seen[name] {
			s.dropInstance(in)
		}
	}
	s.insts = append(keep, added...)
	s.cfg = cfg
	s.rebuildGroups()
	s.recompute()
	for _, in := range added {
		s.startInstance(in)
	}
	s.log.Info("vrrp: configuration reloaded", zap.Int("kept", len(keep)), zap.Int("started", len(added)))
	return nil
}

func (s *Speaker) dropInstance(in *instance) {
	s.step(in, fsm.Event{Kind: fsm.EvShutdown})
	s.removeVIPs(in)
	s.dropVMAC(in)
	in.stopScripts()
	delete(s.byID, in.key)
	s.insts = slices.DeleteFunc(s.insts, func(x *instance) bool { return x == in })
}

func (s *Speaker) rebuildGroups() {
	s.groups = map[string][]*instance{}
	byName := map[string]*instance{}
	for _, in := range s.insts {
		byName[in.cfg.Name] = in
		in.group = nil
	}
	for _, g := range s.cfg.Groups {
		for _, m := range g.Members {
			if in := byName[m]; in != nil {
				in.group = g
				s.groups[g.Name] = append(s.groups[g.Name], in)
			}
		}
	}
}

// addrsOf returns the VIP addresses without prefixes.
func addrsOf(in *Instance) []netip.Addr {
	out := make([]netip.Addr, 0, len(in.Addresses))
	for _, v := range in.Addresses {
		out = append(out, v.Prefix.Addr())
	}
	return out
}
