package appliance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"appl/appliance/cluster"
	"appl/netsetup"
	"appl/proxy"
	"appl/proxy/maps"
	"appl/proxy/runtime"
	"appl/sysctl"
	"appl/vrrp"
)

// Options tune a node.
type Options struct {
	// SkipBootstrap leaves sysctl and network sections unapplied (tests, `--no-bootstrap`).
	SkipBootstrap bool
	// Maps is the process's map store (shared with decoding so runtime edits survive
	// reloads); nil makes one.
	Maps *maps.Store
	// Version is shown by `show info` and the admin API.
	Version string
	// AdminSocket overrides the admin section's socket path (appld --admin-socket);
	// "none" opens no socket.
	AdminSocket string
	// Witness runs the node as a replication witness (appld --witness): a Raft voter
	// with no proxy, no VIPs and no data, serving only the admin API.
	Witness bool
}

// Node is one running appliance: proxy and VRRP speaker from one configuration.
type Node struct {
	log  *zap.Logger
	opts Options

	mu      sync.Mutex
	cfg     *Config
	proxy   *proxy.Proxy
	speaker *vrrp.Speaker
	rt      *runtime.Server
	ready   bool // proxy and VRRP up
	demoted bool
	started time.Time

	checkMu    sync.Mutex
	checkState map[string]bool

	repl    repl
	front   *cluster.Front // runtime API front while a cluster section exists
	stopped chan struct{}  // closed when Run returns
}

// NewNode prepares a node; nothing listens before Run.
func NewNode(cfg *Config, log *zap.Logger, opts Options) (*Node, error) {
	if cfg == nil {
		return nil, errors.New("appliance: nil config")
	}
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Maps == nil {
		opts.Maps = maps.NewStore()
	}
	return &Node{log: log, opts: opts, cfg: cfg, checkState: map[string]bool{}, stopped: make(chan struct{})}, nil
}

// Run brings the node up — bootstrap, proxy, replication (with a cluster section), then
// VRRP so VIPs are claimed only once the proxy listens — and blocks until ctx ends, then
// stops in reverse order. ready is
// called once everything is up (systemd notify).
func (n *Node) Run(ctx context.Context, ready func()) error {
	defer close(n.stopped)
	if n.opts.Witness {
		return n.runWitness(ctx, ready)
	}
	if !n.opts.SkipBootstrap {
		if err := n.bootstrap(); err != nil {
			return err
		}
	}
	// The fd limit is the process's own, so it is raised even without bootstrap; after
	// sysctl, whose profile raises fs.nr_open first.
	nofile := uint64(1 << 20)
	if n.cfg.Sysctl != nil {
		nofile = n.cfg.Sysctl.NofileLimit()
	}
	if u := n.cfg.Proxy.Global.UlimitN; u > 0 {
		// global ulimit-n is applied as given, as HAProxy does.
		if err := sysctl.SetNofile(uint64(u)); err != nil {
			n.log.Warn("ulimit-n not applied", zap.Error(err))
		}
	} else if got, err := sysctl.RaiseNofile(nofile); err != nil {
		n.log.Info("nofile limit not raised as far as wanted", zap.Uint64("wanted", nofile), zap.Uint64("got", got), zap.Error(err))
	}
	p, err := proxy.New(n.cfg.Proxy, n.log.Named("proxy"), proxy.Options{})
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	n.mu.Lock()
	n.proxy, n.started = p, time.Now()
	n.mu.Unlock()
	if path := n.cfg.Proxy.Global.PidFile; path != "" {
		if err := writePidFile(path); err != nil {
			_ = p.Shutdown(context.Background())
			return err
		}
		defer os.Remove(path)
	}
	// Replication starts once the proxy's tables exist (a snapshot restores into them)
	// and before the runtime API opens (map writes are committed from the first one).
	if err := n.startReplication(); err != nil {
		_ = p.Shutdown(context.Background())
		return err
	}
	defer n.stopReplication()
	rt := n.openStatsSockets()
	defer rt.Close()
	n.mu.Lock()
	n.rt = rt
	n.mu.Unlock()
	if n.front != nil {
		defer n.front.Close()
	}
	adm := n.startAdmin()
	defer adm.Close()

	// vrrpDone stays nil (never ready) when the node has no VRRP instances.
	var vrrpDone chan error
	vctx, stopVRRP := context.WithCancel(context.Background())
	defer stopVRRP()
	if n.cfg.VRRP != nil {
		sp, err := vrrp.New(n.cfg.VRRP, n.log.Named("vrrp"), vrrp.Options{})
		if err != nil {
			_ = p.Shutdown(context.Background())
			return err
		}
		n.mu.Lock()
		n.speaker = sp
		n.mu.Unlock()
		// Checks are set before the speaker starts so a box whose backends are already
		// down never claims the VIPs, then follow every server event.
		n.feedChecks()
		n.followVRRP()
		watchStop := make(chan struct{})
		defer close(watchStop)
		go n.watchChecks(p, watchStop)
		vrrpDone = make(chan error, 1)
		go func() { vrrpDone <- sp.Run(vctx) }()
	}
	// Ready means proxy and VRRP up: every instance has left INIT (BACKUP, MASTER or
	// FAULT on a failing tracked item, which is a decision, not a start-up state).
	var runErr error
	if up, err := n.waitVRRPUp(ctx, vrrpDone); err != nil {
		runErr = fmt.Errorf("vrrp: %w", err)
	} else if up {
		n.mu.Lock()
		n.ready = true
		n.mu.Unlock()
		if ready != nil {
			ready()
		}
		n.log.Info("node running", zap.String("node", n.cfg.NodeName()), zap.String("config", n.cfg.Path), zap.String("hash", n.cfg.Hash[:12]))
	}

	if runErr == nil {
		select {
		case <-ctx.Done():
		case err := <-vrrpDone:
			if err != nil {
				runErr = fmt.Errorf("vrrp: %w", err)
			}
			vrrpDone = nil
		}
	}
	// VIPs go first (priority 0 adverts) so the peer takes over before listeners close.
	stopVRRP()
	if vrrpDone != nil {
		if err := <-vrrpDone; err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
			n.log.Warn("vrrp stop", zap.Error(err))
		}
	}
	// The last stick updates reach the peer before the listeners close.
	n.stopReplication()
	sctx := context.Background()
	if d := n.cfg.Proxy.Global.HardStopAfter; d > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, d)
		defer cancel()
	}
	if err := p.Shutdown(sctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// waitVRRPUp waits until every VRRP instance has left INIT. It returns false without
// error when ctx ends first, and the speaker's error when it stopped.
func (n *Node) waitVRRPUp(ctx context.Context, done chan error) (bool, error) {
	n.mu.Lock()
	sp := n.speaker
	n.mu.Unlock()
	if sp == nil {
		return true, nil
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		up := true
		for _, in := range sp.Status() {
			if in.State == "INIT" {
				up = false
			}
		}
		if up {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-done:
			// Put it back for Run's own wait.
			done <- err
			if err == nil {
				err = errors.New("speaker stopped before its instances started")
			}
			return false, err
		case <-t.C:
		}
	}
}

// Reload swaps in a new configuration. A configuration that fails to apply leaves the
// running one in place and returns the error.
func (n *Node) Reload(cfg *Config) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proxy == nil {
		return errors.New("node not running")
	}
	if (cfg.VRRP == nil) != (n.cfg.VRRP == nil) {
		return errors.New("reload cannot add or remove every vrrp/carp section; restart the node")
	}
	if err := n.proxy.Reload(cfg.Proxy); err != nil {
		return err
	}
	if n.speaker != nil {
		if err := n.speaker.Reload(cfg.VRRP); err != nil {
			return fmt.Errorf("proxy reloaded, vrrp kept its old configuration: %w", err)
		}
	}
	n.cfg = cfg
	n.log.Info("configuration reloaded", zap.String("config", cfg.Path), zap.String("hash", cfg.Hash[:12]))
	return nil
}

// Config returns the running configuration.
func (n *Node) Config() *Config {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

// bootstrap applies the sysctl and network sections.
func (n *Node) bootstrap() error {
	if c := n.cfg.Sysctl; c != nil {
		plan, err := sysctl.PlanFor(c, sysctl.Env{})
		if err != nil {
			return fmt.Errorf("sysctl: %w", err)
		}
		if err := sysctl.Apply(plan); err != nil {
			return fmt.Errorf("sysctl: %w", err)
		}
		if err := sysctl.Verify(plan); err != nil {
			n.log.Warn("sysctl verify", zap.Error(err))
		}
		if c.PersistPath != "" {
			if err := sysctl.Persist(plan, c.PersistPath); err != nil {
				n.log.Warn("sysctl persist", zap.Error(err))
			}
		}
	}
	if c := n.cfg.Network; c != nil {
		s, err := netsetup.Open()
		if err != nil {
			return fmt.Errorf("network: %w", err)
		}
		plan, err := netsetup.PlanFor(s, c, netsetup.Options{AdminAddr: netsetup.AdminAddrFromEnv()})
		if err != nil {
			return fmt.Errorf("network: %w", err)
		}
		if _, err := netsetup.Apply(s, plan); err != nil {
			return fmt.Errorf("network: %w", err)
		}
		if err := netsetup.Verify(s, c); err != nil {
			return fmt.Errorf("network: %w", err)
		}
	}
	return nil
}

// writePidFile writes the global `pidfile` once the listeners are bound, as
// HAProxy does; it is removed when the node stops.
func writePidFile(path string) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pidfile: %w", err)
	}
	return nil
}
