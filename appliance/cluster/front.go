package cluster

import (
	"net"

	"appl/proxy/runtime"
)

// Front serves the runtime API while replication runs: replicated writes go through
// Writes (committed before they are answered), every other command to the runtime
// server as usual. It installs Writes as the runtime server's Intercept hook, so the
// connection handling (levels, prompt mode, quit, ';' lists, limits) stays the runtime
// server's own.
type Front struct {
	RT *runtime.Server
}

// NewFront installs w on rt, before rt serves anything.
func NewFront(rt *runtime.Server, w *Writes) *Front {
	rt.Intercept = w.Handle
	return &Front{RT: rt}
}

// Exec runs a command line (';'-separated commands) at level, as Serve would answer it
// (for the admin API).
func (f *Front) Exec(level runtime.Level, line string) string {
	return f.RT.Exec(level, line)
}

// Serve answers connections on l at level until l fails or Close. It closes l.
func (f *Front) Serve(l net.Listener, level runtime.Level) error {
	return f.RT.Serve(l, level)
}

// Close stops every Serve and closes open connections.
func (f *Front) Close() error { return f.RT.Close() }
