package replication

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type applianceFake struct {
	mu      sync.Mutex
	loaded  []string
	servers map[string]ServerState
	cfg     *ConfigStream
	srv     *ServerStates
}

func newApplianceFake() *applianceFake {
	f := &applianceFake{servers: map[string]ServerState{}}
	f.cfg = &ConfigStream{Apply: func(b []byte) error {
		if !strings.HasPrefix(string(b), "global") {
			return errors.New("config.cfg:1: expected a section")
		}
		f.mu.Lock()
		f.loaded = append(f.loaded, string(b))
		f.mu.Unlock()
		return nil
	}}
	f.srv = &ServerStates{Apply: func(st ServerState) error {
		f.mu.Lock()
		f.servers[st.Backend+"/"+st.Server] = st
		f.mu.Unlock()
		return nil
	}}
	return f
}

func (f *applianceFake) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.loaded) == 0 {
		return ""
	}
	return f.loaded[len(f.loaded)-1]
}

func TestConfigAndServerStreams(t *testing.T) {
	c := newClusterWith(t, 2, false, nil, func(tn *tnode) []Replicated {
		f := newApplianceFake()
		tn.extra = f
		return []Replicated{tn.kv, tn.maps, f.cfg, f.srv}
	})
	a, b := c.boxes()[0], c.boxes()[1]
	fa, fb := a.extra.(*applianceFake), b.extra.(*applianceFake)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A config pushed on either node is loaded by both.
	for i, from := range []*tnode{b, a} {
		file := "global\n  maxconn " + itoa(1000+i) + "\n"
		if err := from.n.Commit(ctx, StreamConfig, []byte(file)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "both nodes loaded the pushed config", func() bool {
			return fa.last() == file && fb.last() == file
		})
		_, ha := fa.cfg.Current()
		_, hb := fb.cfg.Current()
		if ha == "" || ha != hb {
			t.Fatalf("config hashes %q %q", ha, hb)
		}
	}
	// A config the nodes refuse: the pusher hears why.
	if err := a.n.Commit(ctx, StreamConfig, []byte("bogus\n")); err == nil || !strings.Contains(err.Error(), "expected a section") {
		t.Fatalf("bad config push: %v", err)
	}
	// Server state by backend and server name.
	p, err := EncodeServerState(ServerState{Backend: "web", Server: "s1", Admin: "maint", Weight: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.n.Commit(ctx, StreamServers, p); err != nil {
		t.Fatal(err)
	}
	p, _ = EncodeServerState(ServerState{Backend: "web", Server: "s1", Weight: 50})
	if err := a.n.Commit(ctx, StreamServers, p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "server state on both", func() bool {
		for _, f := range []*applianceFake{fa, fb} {
			all := f.srv.All()
			if len(all) != 1 || all[0].Admin != "maint" || all[0].Weight != 50 {
				return false
			}
		}
		return true
	})
	if _, err := EncodeServerState(ServerState{Server: "x"}); err == nil {
		t.Fatal("server state without backend accepted")
	}
	// Snapshots carry both.
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, []Replicated{fa.cfg, fa.srv}); err != nil {
		t.Fatal(err)
	}
	g := newApplianceFake()
	f := newFSM(9)
	f.register(g.cfg)
	f.register(g.srv)
	if err := f.Restore(nopCloser{bytes.NewReader(buf.Bytes())}); err != nil {
		t.Fatal(err)
	}
	if got, want := g.last(), fa.last(); got != want || len(g.srv.All()) != 1 {
		t.Fatalf("restored config %q (want %q), servers %v", got, want, g.srv.All())
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
