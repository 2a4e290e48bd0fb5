package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"appl/vrrp/fsm"
	"appl/vrrp/packet"
)

// instance is the run-time side of one Instance; owned by the Run loop.
type instance struct {
	cfg      *Instance
	key      idKey
	group    *Group
	sock     *ifSocket // receives (the parent's socket, shared)
	tx       *ifSocket // sends: sock, or the vmac's send-only socket
	vmac     *net.Interface
	src      netip.Addr
	st       fsm.State
	params   fsm.Params
	demoted  bool
	ownFault bool
	cnt      Counters
	counter  uint64 // CARP replay counter

	vipsHeld          bool
	garpAt, refreshAt time.Time
	lastWarn          time.Time

	scriptOK     []bool
	scriptRun    []int // consecutive results in the current direction
	stopScriptFn context.CancelFunc
}

func (s *Speaker) addInstance(c *Instance) (*instance, error) {
	ifi, err := s.nio.iface(c.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp %s: interface %q: %w", c.Name, c.Interface, err)
	}
	sock, err := s.nio.socket(ifi, c.Family())
	if err != nil {
		return nil, fmt.Errorf("vrrp %s: socket on %s: %w", c.Name, c.Interface, err)
	}
	in := &instance{cfg: c, sock: sock, tx: sock, key: idKey{ifi.Index, c.Family(), c.Proto, uint8(c.VRID)}}
	if o := s.byID[in.key]; o != nil {
		return nil, fmt.Errorf("vrrp %s: same interface and id as %s", c.Name, o.cfg.Name)
	}
	if c.Proto == fsm.CARP {
		sock.hasCARP = true
	}
	in.src, err = s.nio.source(c, ifi)
	if err != nil {
		return nil, fmt.Errorf("vrrp %s: %w", c.Name, err)
	}
	// A node that crashed may have left its VIPs behind (with no lifetime, or a long
	// one): clear them before joining so we never answer for an address we do not own.
	// With a vmac, stale copies may sit on the parent too (a run without use-vmac).
	s.removeVIPs(in)
	if c.UseVMAC {
		if err := s.openVMAC(in); err != nil {
			return nil, fmt.Errorf("vrrp %s: %w", c.Name, err)
		}
	}
	sock.own[in.src] = true
	for _, name := range append([]string{c.Interface}, trackNames(c.TrackInterfaces)...) {
		if _, known := s.links[name]; !known {
			s.links[name] = s.nio.linkUp(name)
		}
	}
	in.counter = uint64(time.Now().UnixNano())
	prio, demote, fault, demoted := s.effective(in)
	in.params = c.params(prio)
	in.params.Demote, in.params.Self = demote, in.src
	in.ownFault, in.demoted = fault, demoted
	in.startScripts(s)
	s.byID[in.key] = in
	s.log.Info("vrrp: instance ready", zap.String("instance", c.Name), zap.String("kind", kindOf(c)),
		zap.String("interface", c.Interface), zap.Int("id", c.VRID), zap.Stringer("source", in.src),
		zap.Int("priority", prio), zap.Duration("advert", c.AdvertInterval()), zap.Duration("vip_lifetime", c.VIPLifetime))
	return in, nil
}

func trackNames(ts []Track) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func (s *Speaker) startInstance(in *instance) {
	if in.ownFault || s.groupFault(in) {
		s.step(in, fsm.Event{Kind: fsm.EvFault})
		return
	}
	s.step(in, fsm.Event{Kind: fsm.EvStart})
}

// effective computes priority, CARP demotion and fault from tracking and demotion.
// Weights follow keepalived: 0 means a failure puts the instance in FAULT, a positive
// weight is added while the item is up, a negative one while it is down. For CARP a
// failing item raises the demotion counter by |weight| (carp(4) demotion).
func (s *Speaker) effective(in *instance) (prio, demote int, fault, demoted bool) {
	c := in.cfg
	prio, demote = c.Priority, c.Demote
	if !s.links[c.Interface] || (in.vmac != nil && !s.links[in.vmac.Name]) {
		fault = true
	}
	apply := func(ok bool, w int) {
		switch {
		case w == 0:
			if !ok {
				fault = true
			}
		case c.Proto == fsm.CARP:
			if !ok {
				demote += max(w, -w)
			}
		case w > 0 && ok, w < 0 && !ok:
			prio += w
		}
	}
	for _, t := range c.TrackInterfaces {
		apply(s.links[t.Name], t.Weight)
	}
	for _, t := range c.TrackChecks {
		apply(s.checkOK(t.Name), t.Weight)
	}
	for i, sc := range c.TrackScripts {
		apply(i >= len(in.scriptOK) || in.scriptOK[i], sc.Weight)
	}
	if c.Priority == 255 {
		prio = 255 // the address owner does not track (RFC 5798, keepalived)
	} else {
		prio = min(max(prio, 1), 254)
	}
	demoted = s.isDemoted(c.Name)
	if demoted {
		prio = 1
		demote++
	}
	demote = min(demote, 255)
	return prio, demote, fault, demoted
}

func (s *Speaker) groupFault(in *instance) bool {
	if in.group == nil {
		return false
	}
	for _, o := range s.groups[in.group.Name] {
		if o != in && o.ownFault {
			return true
		}
	}
	return false
}

// recompute re-evaluates tracking for every instance and feeds changes to the machines.
func (s *Speaker) recompute() {
	if !s.running {
		return
	}
	for _, in := range s.insts {
		prio, demote, fault, demoted := s.effective(in)
		p := in.cfg.params(prio)
		p.Demote, p.Self = demote, in.src
		changed := p != in.params
		in.params, in.ownFault = p, fault
		newlyDemoted := demoted && !in.demoted
		in.demoted = demoted
		if changed {
			s.log.Info("vrrp: priority changed", zap.String("instance", in.cfg.Name), zap.Int("priority", prio),
				zap.Int("demote", demote), zap.Bool("fault", fault), zap.Bool("demoted", demoted))
			s.step(in, fsm.Event{Kind: fsm.EvParams})
		}
		if newlyDemoted {
			s.step(in, fsm.Event{Kind: fsm.EvRelease})
		}
	}
	for _, in := range s.insts {
		fault := in.ownFault || s.groupFault(in)
		switch {
		case fault && in.st.Role != fsm.Fault:
			s.step(in, fsm.Event{Kind: fsm.EvFault})
		case !fault && in.st.Role == fsm.Fault:
			s.step(in, fsm.Event{Kind: fsm.EvRecover})
		}
	}
}

func (s *Speaker) linkUpdate(name string, up bool) {
	if was, known := s.links[name]; !known || was == up {
		return
	}
	s.links[name] = up
	s.log.Info("vrrp: link change", zap.String("interface", name), zap.Bool("up", up))
	s.recompute()
}

func (s *Speaker) step(in *instance, ev fsm.Event) {
	now := time.Now()
	var acts []fsm.Action
	in.st, acts = fsm.Step(in.params, in.st, ev, now)
	for _, a := range acts {
		s.perform(in, a, now)
	}
}

func (s *Speaker) perform(in *instance, a fsm.Action, now time.Time) {
	switch a.Kind {
	case fsm.ActSend:
		if s.send(in, a.Leaving) && !a.Leaving && in.vipsHeld && in.cfg.VIPLifetime > 0 {
			// Each advert sent extends the VIPs' kernel lifetime: if we stop sending
			// (SIGKILL, hang) they expire by themselves. Only VIPs we hold: a new
			// master still in its preempt hold must not add them early.
			s.addVIPs(in)
		}
	case fsm.ActAddVIPs:
		s.addVIPs(in)
	case fsm.ActRemoveVIPs:
		s.removeVIPs(in)
		in.garpAt, in.refreshAt = time.Time{}, time.Time{}
	case fsm.ActAnnounce:
		s.announce(in)
		if in.cfg.GARPDelay > 0 {
			in.garpAt = now.Add(in.cfg.GARPDelay)
		}
		if in.cfg.GARPRefresh > 0 {
			in.refreshAt = now.Add(in.cfg.GARPRefresh)
		}
	case fsm.ActStateChange:
		s.changed(in, a.From, a.To, now)
	}
}

func (s *Speaker) changed(in *instance, from, to fsm.Role, now time.Time) {
	c := in.cfg
	group := ""
	if in.group != nil {
		group = in.group.Name
	}
	s.log.Info("vrrp: state change", zap.String("instance", c.Name), zap.String("from", from.String()),
		zap.String("to", to.String()), zap.Int("priority", in.params.Priority), zap.Stringer("master", in.st.MasterAddr))
	s.publish(Event{Instance: c.Name, Group: group, From: from.String(), To: to.String(), Priority: in.params.Priority, Time: now})
	st := to.String()
	s.runHook(c.Notify, "INSTANCE", c.Name, st, strconv.Itoa(in.params.Priority))
	s.runHook(stateHook(to, c.NotifyMaster, c.NotifyBackup, c.NotifyFault))
	if in.group == nil || s.propagate || to == fsm.Init {
		return
	}
	// Sync group: the other members follow (keepalived vrrp_sync_group).
	s.propagate = true
	defer func() { s.propagate = false }()
	g := in.group
	s.runHook(g.Notify, "GROUP", g.Name, st, "0")
	s.runHook(stateHook(to, g.NotifyMaster, g.NotifyBackup, g.NotifyFault))
	for _, o := range s.groups[g.Name] {
		if o == in {
			continue
		}
		switch {
		case to == fsm.Master && o.st.Role == fsm.Backup:
			s.step(o, fsm.Event{Kind: fsm.EvTakeover})
		case to == fsm.Backup && o.st.Role == fsm.Master:
			s.step(o, fsm.Event{Kind: fsm.EvRelease})
		case to == fsm.Fault && o.st.Role != fsm.Fault:
			s.step(o, fsm.Event{Kind: fsm.EvFault})
		}
	}
}

func stateHook(to fsm.Role, master, backup, fault string) string {
	switch to {
	case fsm.Master:
		return master
	case fsm.Backup:
		return backup
	case fsm.Fault:
		return fault
	}
	return ""
}

// runHook runs a notify command in the background, bounded by HookTimeout. A `notify`
// command gets keepalived's arguments: TYPE NAME STATE PRIORITY.
func (s *Speaker) runHook(cmd string, args ...string) {
	if cmd == "" {
		return
	}
	argv := append([]string{"/bin/sh", "-c", cmd + ` "$@"`, "sh"}, args...)
	if s.opts.Namespace != "" {
		argv = append([]string{"ip", "netns", "exec", s.opts.Namespace}, argv...)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.HookTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			if len(out) > 512 {
				out = out[:512]
			}
			s.log.Warn("vrrp: notify hook failed", zap.String("command", cmd), zap.Error(err), zap.ByteString("output", out))
		}
	}()
}

// send builds and sends one advertisement to the group or the unicast peers.
func (s *Speaker) send(in *instance, leaving bool) bool {
	c, p := in.cfg, in.params
	dsts := c.UnicastPeers
	if len(dsts) == 0 {
		dsts = []netip.Addr{packet.GroupV4}
		if c.Family() == 6 {
			dsts = []netip.Addr{packet.GroupV6}
		}
	}
	ok := true
	var carp []byte
	if c.Proto == fsm.CARP {
		in.counter++
		cp := &packet.CARP{VHID: uint8(c.VRID), AdvBase: uint8(p.AdvBase), AdvSkew: uint8(p.AdvSkew), Demote: uint8(p.Demote), Counter: in.counter}
		if leaving {
			cp.AdvBase, cp.AdvSkew = 255, 255
		}
		carp = packet.MarshalCARP(cp, packet.CARPKey(c.Pass), addrsOf(c))
	}
	for _, dst := range dsts {
		b := carp
		if b == nil {
			v := &packet.VRRP{Version: c.Version, VRID: uint8(c.VRID), Priority: uint8(p.Priority), Addresses: addrsOf(c)}
			if leaving {
				v.Priority = 0
			}
			if c.Version == 2 {
				v.Interval = uint16(c.Interval / time.Second)
				if c.AuthPass != "" {
					v.AuthType, v.AuthData = packet.AuthSimple, packet.SimpleAuth(c.AuthPass)
				}
			} else {
				v.Interval = uint16(c.Interval / (10 * time.Millisecond))
			}
			var err error
			b, err = packet.MarshalVRRP(v, in.src, dst, packet.Options{V3ChecksumAsV2: c.V3ChecksumAsV2})
			if err != nil {
				in.cnt.TxErrors++
				ok = false
				continue
			}
		}
		if err := in.tx.send(in.src, dst, b); err != nil {
			in.cnt.TxErrors++
			ok = false
			if in.cnt.TxErrors == 1 || in.cnt.TxErrors%100 == 0 {
				s.log.Warn("vrrp: send failed", zap.String("instance", c.Name), zap.Stringer("to", dst), zap.Error(err))
			}
			continue
		}
		in.cnt.TxAdverts++
	}
	return ok
}

// packetIn validates one received packet and feeds it to its instance. Every drop is
// counted; nothing invalid reaches a state machine.
func (s *Speaker) packetIn(sock *ifSocket, src, dst netip.Addr, ttl int, b []byte) {
	if sock.own[src] {
		return // our own advert looped back
	}
	if len(b) < 2 {
		s.global.BadLength++
		return
	}
	proto := fsm.VRRP
	if sock.hasCARP && packet.IsCARP(b) {
		proto = fsm.CARP
	}
	in := s.byID[idKey{sock.ifindex, sock.fam, proto, b[1]}]
	cnt := &s.global
	if in != nil {
		cnt = &in.cnt
	}
	if ttl != packet.TTL {
		cnt.BadTTL++
		return
	}
	if in == nil {
		s.global.UnknownID++
		return
	}
	c := in.cfg
	if len(c.UnicastPeers) > 0 && !slices.Contains(c.UnicastPeers, src) {
		cnt.NotPeer++
		return
	}
	var adv fsm.Advert
	if proto == fsm.CARP {
		cp, err := packet.UnmarshalCARP(b)
		if err == nil {
			err = packet.VerifyCARP(cp, packet.CARPKey(c.Pass), addrsOf(c))
		}
		if err != nil {
			cnt.countDecodeError(err)
			s.warn(in, "vrrp: carp advert dropped", zap.Stringer("from", src), zap.Error(err))
			return
		}
		adv = fsm.Advert{From: src, AdvBase: int(cp.AdvBase), AdvSkew: int(cp.AdvSkew), Demote: int(cp.Demote)}
	} else {
		v, err := packet.UnmarshalVRRP(b, src, dst, packet.Options{V3ChecksumAsV2: c.V3ChecksumAsV2})
		if err == nil && v.Version != c.Version {
			err = packet.ErrVersion
		}
		if err == nil {
			var data [8]byte
			var typ uint8
			if c.AuthPass != "" {
				typ, data = packet.AuthSimple, packet.SimpleAuth(c.AuthPass)
			}
			err = packet.CheckAuth(v, typ, data)
		}
		if err != nil {
			cnt.countDecodeError(err)
			s.warn(in, "vrrp: advert dropped", zap.Stringer("from", src), zap.Error(err))
			return
		}
		interval := time.Duration(v.Interval) * 10 * time.Millisecond
		if v.Version == 2 {
			interval = time.Duration(v.Interval) * time.Second
			// RFC 3768 7.1: a VRRPv2 advert with another interval is discarded.
			if interval != c.Interval {
				cnt.IntervalMismatch++
				s.warn(in, "vrrp: advert interval differs from ours, dropped", zap.Stringer("from", src), zap.Duration("theirs", interval))
				return
			}
		}
		if !sameAddrs(v.Addresses, addrsOf(c)) && v.Priority != 255 {
			cnt.AddressMismatch++
			s.warn(in, "vrrp: advert VIP list differs from ours (config drift?); acting on it anyway",
				zap.Stringer("from", src), zap.Any("theirs", v.Addresses))
		}
		adv = fsm.Advert{From: src, Priority: int(v.Priority), Interval: interval}
	}
	in.cnt.RxAdverts++
	s.step(in, fsm.Event{Kind: fsm.EvAdvert, Advert: adv})
}

// warn logs at most one warning per instance every 10 s, so a flood of bad packets
// cannot flood the log; counters keep the exact numbers.
func (s *Speaker) warn(in *instance, msg string, fields ...zap.Field) {
	now := time.Now()
	if now.Sub(in.lastWarn) < 10*time.Second {
		return
	}
	in.lastWarn = now
	s.log.Warn(msg, append(fields, zap.String("instance", in.cfg.Name))...)
}

func sameAddrs(a, b []netip.Addr) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, netip.Addr.Compare)
	slices.SortFunc(b, netip.Addr.Compare)
	return slices.Equal(a, b)
}

// Scripts (keepalived vrrp_script): a command whose exit status is a tracked check with
// rise/fall hysteresis. They start as passing.
func (in *instance) startScripts(s *Speaker) {
	c := in.cfg
	in.scriptOK = make([]bool, len(c.TrackScripts))
	in.scriptRun = make([]int, len(c.TrackScripts))
	for i := range in.scriptOK {
		in.scriptOK[i] = true
	}
	if len(c.TrackScripts) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.stopScriptFn = cancel
	done := s.nio.done
	for i, sc := range c.TrackScripts {
		go func() {
			t := time.NewTicker(sc.Interval)
			defer t.Stop()
			for {
				argv := []string{"/bin/sh", "-c", sc.Command}
				if s.opts.Namespace != "" {
					argv = append([]string{"ip", "netns", "exec", s.opts.Namespace}, argv...)
				}
				rctx, rcancel := context.WithTimeout(ctx, sc.Timeout)
				err := exec.CommandContext(rctx, argv[0], argv[1:]...).Run()
				rcancel()
				if ctx.Err() != nil {
					return
				}
				ok := err == nil
				s.post(done, func() {
					if ctx.Err() == nil {
						s.scriptResult(in, i, ok)
					}
				})
				select {
				case <-ctx.Done():
					return
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
	}
}

func (in *instance) stopScripts() {
	if in.stopScriptFn != nil {
		in.stopScriptFn()
		in.stopScriptFn = nil
	}
}

func (s *Speaker) scriptResult(in *instance, i int, ok bool) {
	if i >= len(in.scriptOK) {
		return
	}
	sc := in.cfg.TrackScripts[i]
	if ok == in.scriptOK[i] {
		in.scriptRun[i] = 0
		return
	}
	in.scriptRun[i]++
	need := sc.Fall
	if ok {
		need = sc.Rise
	}
	if in.scriptRun[i] >= need {
		in.scriptOK[i], in.scriptRun[i] = ok, 0
		s.log.Info("vrrp: script check changed", zap.String("instance", in.cfg.Name), zap.String("script", sc.Command), zap.Bool("ok", ok))
		s.recompute()
	}
}
