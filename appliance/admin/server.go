package admin

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Options tune a Server.
type Options struct {
	// Token is required as `Authorization: Bearer TOKEN` on HTTPS; never logged.
	Token string
	// Peer reaches the other node's admin API; nil when no peer address is configured.
	Peer *Client
	Log  *zap.Logger
	// PeerTimeout bounds one peer status request (default 1.5s) so a dead peer never
	// holds `applctl status` up.
	PeerTimeout time.Duration
}

// Server serves the admin API for one node.
type Server struct {
	t    Target
	opts Options
	log  *zap.Logger

	mu     sync.Mutex
	https  []*http.Server
	closed bool
	done   chan struct{}
	// failMu serialises failovers: two at once would demote both nodes.
	failMu sync.Mutex
}

// New returns a Server for t.
func New(t Target, opts Options) *Server {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.PeerTimeout <= 0 {
		opts.PeerTimeout = 1500 * time.Millisecond
	}
	return &Server{t: t, opts: opts, log: opts.Log, done: make(chan struct{})}
}

// Handler is the API without transport authentication (the unix socket's 0600 mode is
// its authentication). Write requests still need the CSRF header.
func (s *Server) Handler() http.Handler { return s.routes(false) }

// TokenHandler is the API behind bearer-token authentication (HTTPS).
func (s *Server) TokenHandler() http.Handler { return s.routes(true) }

func (s *Server) routes(token bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("POST /v1/failover", s.failover)
	mux.HandleFunc("POST /v1/demote", s.demote)
	mux.HandleFunc("POST /v1/reload", s.reload)
	mux.HandleFunc("POST /v1/config/check", s.configCheck)
	mux.HandleFunc("POST /v1/servers/{backend}/{server}/state", s.serverState)
	mux.HandleFunc("POST /v1/runtime", s.runtime)
	mux.HandleFunc("GET /v1/events", s.events)
	s.clusterRoutes(mux, token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token && !s.tokenOK(r) {
			s.log.Warn("admin: request refused: missing or wrong token", zap.String("remote", r.RemoteAddr), zap.String("path", r.URL.Path))
			w.Header().Set("WWW-Authenticate", `Bearer realm="appl"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token (expected Authorization: Bearer TOKEN)")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Header.Get(CSRFHeader) == "" {
				writeError(w, http.StatusForbidden, "missing "+CSRFHeader+" header (required on write requests: CSRF protection)")
				return
			}
			s.log.Info("admin request", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) tokenOK(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || s.opts.Token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1
}

// ListenUnix opens the unix socket with mode 0600 before anyone can reach it: it is
// created under a temporary name, chmod'ed, then renamed into place. A stale socket is
// replaced; a live one (another appld) is an error.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another process is serving this admin socket", path)
		}
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp)
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	return &unixListener{Listener: l, path: path}, nil
}

type unixListener struct {
	net.Listener
	path string
	once sync.Once
}

func (u *unixListener) Close() error {
	err := u.Listener.Close()
	u.once.Do(func() { _ = os.Remove(u.path) })
	return err
}

// Serve answers the API on l without token (unix socket) or with it (tlsConf set: HTTPS).
// It returns when l fails or Close is called.
func (s *Server) Serve(l net.Listener, tlsConf *tls.Config) error {
	h := s.Handler()
	if tlsConf != nil {
		h = s.TokenHandler()
		l = tls.NewListener(l, tlsConf)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	s.https = append(s.https, hs)
	s.mu.Unlock()
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops every listener and ends event streams.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	hs := s.https
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, h := range hs {
		if err := h.Shutdown(ctx); err != nil {
			_ = h.Close()
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string, errs ...string) {
	writeJSON(w, code, errorBody{Error: msg, Errors: errs})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	cs := ClusterStatus{Local: s.t.Status()}
	if r.URL.Query().Get("local") == "" && s.opts.Peer != nil {
		cs.PeerAddr = s.opts.Peer.Where
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.PeerTimeout)
		defer cancel()
		ps, err := s.opts.Peer.Status(ctx, true)
		if err != nil {
			cs.PeerError = fmt.Sprintf("peer %s unreachable: %v", s.opts.Peer.Where, err)
		} else {
			cs.Peer = &ps.Local
		}
	}
	writeJSON(w, http.StatusOK, cs)
}

func (s *Server) demote(w http.ResponseWriter, r *http.Request) {
	var req struct {
		On bool `json:"on"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad body (expected {\"on\": true|false})")
		return
	}
	if err := s.t.Demote(req.On); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"demoted": req.On})
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	res := s.t.Reload()
	if !res.OK {
		writeRefusal(w, "reload refused, the running configuration keeps serving", res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// writeRefusal answers 422 with the error text and the result's fields.
func writeRefusal(w http.ResponseWriter, msg string, res ReloadResult) {
	writeJSON(w, http.StatusUnprocessableEntity, struct {
		Error      string   `json:"error"`
		OK         bool     `json:"ok"`
		ConfigHash string   `json:"config_hash,omitempty"`
		Warnings   []string `json:"warnings,omitempty"`
		Errors     []string `json:"errors,omitempty"`
	}{msg, res.OK, res.ConfigHash, res.Warnings, res.Errors})
}

func (s *Server) configCheck(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read the body: "+err.Error())
		return
	}
	if len(data) == 0 {
		data = nil
	}
	res := s.t.CheckConfig(data)
	if !res.OK {
		writeRefusal(w, "configuration invalid", res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// validName keeps a path segment from smuggling extra runtime commands or words.
func validName(s string) bool {
	return s != "" && len(s) <= 256 && !strings.ContainsAny(s, " \t\r\n;\\/'\"#")
}

func (s *Server) serverState(w http.ResponseWriter, r *http.Request) {
	be, srv := r.PathValue("backend"), r.PathValue("server")
	if !validName(be) || !validName(srv) {
		writeError(w, http.StatusBadRequest, "invalid backend or server name")
		return
	}
	var req struct {
		State string `json:"state"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad body (expected {\"state\": \"ready\"|\"drain\"|\"maint\"})")
		return
	}
	switch req.State {
	case "ready", "drain", "maint":
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown state %q (expected ready, drain or maint)", req.State))
		return
	}
	out := strings.TrimSpace(s.t.Runtime(fmt.Sprintf("set server %s/%s state %s", be, srv, req.State)))
	switch {
	case out == "":
		writeJSON(w, http.StatusOK, map[string]string{"backend": be, "server": srv, "state": req.State})
	case strings.Contains(out, "No such"):
		writeError(w, http.StatusNotFound, out)
	default:
		writeError(w, http.StatusBadRequest, out)
	}
}

// runtime runs one runtime API command line at admin level (applctl map/table): the
// same path as the stats socket, so replicated writes commit before they answer.
func (s *Server) runtime(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Command string `json:"command"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || strings.TrimSpace(req.Command) == "" {
		writeError(w, http.StatusBadRequest, "bad body (expected {\"command\": \"show map\"})")
		return
	}
	if strings.ContainsAny(req.Command, "\r\n") {
		writeError(w, http.StatusBadRequest, "one command line only (no line breaks)")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"output": s.t.Runtime(req.Command)})
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming not supported")
		return
	}
	ch, cancel := s.t.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	hb := time.NewTicker(15 * time.Second)
	defer hb.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-hb.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case ev, ok := <-ch:
			if !ok {
				return
			}
			b, _ := json.Marshal(ev)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Kind, b)
		}
		fl.Flush()
	}
}
