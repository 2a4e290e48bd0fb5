package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// Cluster endpoints. Those that change membership or push configuration are served on
// the unix socket only: they hand out or use cluster secrets (the join token), which a
// bearer token over HTTPS should not reach.
func (s *Server) clusterRoutes(mux *http.ServeMux, https bool) {
	mux.HandleFunc("GET /v1/cluster/status", s.clusterStatus)
	if https {
		return
	}
	mux.HandleFunc("POST /v1/cluster/init", s.clusterInit)
	mux.HandleFunc("GET /v1/cluster/token", s.clusterToken)
	mux.HandleFunc("POST /v1/cluster/join", s.clusterJoin)
	mux.HandleFunc("POST /v1/cluster/remove", s.clusterRemove)
	mux.HandleFunc("POST /v1/cluster/recover", s.clusterRecover)
	mux.HandleFunc("POST /v1/config/push", s.configPush)
}

func (s *Server) cluster(w http.ResponseWriter) (ClusterTarget, bool) {
	ct, ok := s.t.(ClusterTarget)
	if !ok {
		writeError(w, http.StatusNotImplemented, "replication is not part of this node")
	}
	return ct, ok
}

// clusterError answers a refused cluster operation: 503 when no quorum (retry later,
// or recover), 409 otherwise.
func clusterError(w http.ResponseWriter, err error) {
	code := http.StatusConflict
	if strings.Contains(err.Error(), "no quorum") {
		code = http.StatusServiceUnavailable
	}
	writeError(w, code, strings.TrimPrefix(err.Error(), "replication: "))
}

func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.cluster(w)
	if !ok {
		return
	}
	st, err := ct.ClusterStatus(r.Context())
	if err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) clusterInit(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.cluster(w)
	if !ok {
		return
	}
	tok, err := ct.ClusterInit()
	if err != nil {
		clusterError(w, err)
		return
	}
	s.log.Info("cluster initialised on this node (token not logged)")
	writeJSON(w, http.StatusOK, TokenResult{Token: tok})
}

func (s *Server) clusterToken(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.cluster(w)
	if !ok {
		return
	}
	tok, err := ct.ClusterToken()
	if err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, TokenResult{Token: tok})
}

func (s *Server) clusterJoin(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.cluster(w)
	if !ok {
		return
	}
	var req JoinRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 8192)).Decode(&req); err != nil || req.Addr == "" || req.Token == "" {
		writeError(w, http.StatusBadRequest, "bad body (expected {\"addr\": \"ADDR:PORT\", \"token\": \"appl-join-v1...\"})")
		return
	}
	if err := ct.ClusterJoin(r.Context(), req.Addr, req.Token); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"joined": req.Addr})
}

func (s *Server) clusterRemove(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.cluster(w)
	if !ok {
		return
	}
	var req struct {
		Node string `json:"node"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || !validName(req.Node) {
		writeError(w, http.StatusBadRequest, "bad body (expected {\"node\": \"NAME\"})")
		return
	}
	if err := ct.ClusterRemove(r.Context(), req.Node); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": req.Node})
}

func (s *Server) clusterRecover(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.cluster(w)
	if !ok {
		return
	}
	var req struct {
		ForceSingle bool `json:"force_single"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || !req.ForceSingle {
		writeError(w, http.StatusBadRequest, "bad body (expected {\"force_single\": true}: the only recovery there is)")
		return
	}
	if err := ct.ClusterRecover(); err != nil {
		clusterError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"single": true})
}

func (s *Server) configPush(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.cluster(w)
	if !ok {
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil || len(data) == 0 {
		writeError(w, http.StatusBadRequest, "expected the configuration file as the body")
		return
	}
	res, err := ct.ConfigPush(r.Context(), data)
	if err != nil {
		clusterError(w, err)
		return
	}
	if !res.OK {
		writeRefusal(w, "configuration invalid, nothing pushed", res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// ClusterInit creates a cluster on the node and returns its join token.
func (c *Client) ClusterInit(ctx context.Context) (string, error) {
	var res TokenResult
	err := c.do(ctx, http.MethodPost, "/v1/cluster/init", nil, &res)
	return res.Token, err
}

// ClusterToken returns the join token of the node's cluster.
func (c *Client) ClusterToken(ctx context.Context) (string, error) {
	var res TokenResult
	err := c.do(ctx, http.MethodGet, "/v1/cluster/token", nil, &res)
	return res.Token, err
}

// ClusterJoin makes the node join the cluster of the member at addr.
func (c *Client) ClusterJoin(ctx context.Context, addr, token string) error {
	b, _ := json.Marshal(JoinRequest{Addr: addr, Token: token})
	return c.do(ctx, http.MethodPost, "/v1/cluster/join", bytes.NewReader(b), nil)
}

// ClusterStatus decodes the node's replication status into out.
func (c *Client) ClusterStatus(ctx context.Context, out any) error {
	return c.do(ctx, http.MethodGet, "/v1/cluster/status", nil, out)
}

// ClusterRemove removes a member for good.
func (c *Client) ClusterRemove(ctx context.Context, node string) error {
	b, _ := json.Marshal(map[string]string{"node": node})
	return c.do(ctx, http.MethodPost, "/v1/cluster/remove", bytes.NewReader(b), nil)
}

// ClusterRecoverForceSingle makes the node the only voter.
func (c *Client) ClusterRecoverForceSingle(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/cluster/recover", strings.NewReader(`{"force_single":true}`), nil)
}

// ConfigPush sends a configuration file to be validated, committed and loaded by every node.
func (c *Client) ConfigPush(ctx context.Context, data []byte) (ReloadResult, error) {
	var res ReloadResult
	err := c.do(ctx, http.MethodPost, "/v1/config/push", bytes.NewReader(data), &res)
	return res, err
}
