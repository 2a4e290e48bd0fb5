package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultFailoverTimeout bounds the wait for the peer to become master.
const DefaultFailoverTimeout = 10 * time.Second

// errStatus carries the HTTP status a failover refusal is answered with.
type errStatus struct {
	code int
	msg  string
}

func (e *errStatus) Error() string { return e.msg }

func (s *Server) failover(w http.ResponseWriter, r *http.Request) {
	var req FailoverRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad body (expected {\"to\":NODE,\"wait\":bool,\"force\":bool,\"timeout\":\"10s\"})")
		return
	}
	res, err := s.Failover(r.Context(), req)
	if err != nil {
		code := http.StatusConflict
		var es *errStatus
		if errors.As(err, &es) {
			code = es.code
		}
		var ae *APIError
		if errors.As(err, &ae) {
			code = ae.Status
		}
		writeJSON(w, code, struct {
			errorBody
			FailoverResult
		}{errorBody{Error: err.Error()}, res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Failover hands this node's mastership to the peer (req.To empty or the peer's name),
// or takes it from the peer (req.To is this node). It refuses when the peer cannot be
// seen healthy, unless req.Force. The demotion is kept after the handover so the node
// does not preempt back; the next failover towards this node clears it.
func (s *Server) Failover(ctx context.Context, req FailoverRequest) (FailoverResult, error) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	timeout := DefaultFailoverTimeout
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return FailoverResult{}, &errStatus{http.StatusBadRequest, fmt.Sprintf("invalid timeout %q (expected a duration up to 5m, e.g. 10s)", req.Timeout)}
		}
		timeout = d
	}
	local := s.t.Status()
	res := FailoverResult{From: local.Node, Forced: req.Force}
	if req.To != "" && req.To == local.Node {
		return s.takeOver(ctx, req, local)
	}

	var masters []string
	prevMaster := map[string]string{}
	for _, in := range local.VRRP {
		if in.State == "MASTER" {
			masters = append(masters, in.Name)
			prevMaster[in.Name] = in.Master
		}
	}
	res.Instances = masters
	if len(local.VRRP) == 0 {
		return res, &errStatus{http.StatusConflict, "this node runs no vrrp/carp instance: nothing to fail over"}
	}
	if len(masters) == 0 {
		return res, &errStatus{http.StatusConflict, fmt.Sprintf("node %s is master of no instance: nothing to hand over (to make it master: applctl failover --to %s)", local.Node, local.Node)}
	}

	var peer *NodeStatus
	peerErr := errors.New("no peer admin address configured (admin `peer`, or `admin-addr` in the other node block)")
	if s.opts.Peer != nil {
		pctx, cancel := context.WithTimeout(ctx, s.opts.PeerTimeout)
		ps, err := s.opts.Peer.Status(pctx, true)
		cancel()
		if err == nil {
			peer, peerErr = &ps.Local, nil
		} else {
			peerErr = fmt.Errorf("peer %s unreachable: %v", s.opts.Peer.Where, err)
		}
	}
	if req.To != "" && peer != nil && req.To != peer.Node {
		return res, &errStatus{http.StatusBadRequest, fmt.Sprintf("unknown node %q (this node is %s, its peer %s)", req.To, local.Node, peer.Node)}
	}
	if peerErr != nil {
		if !req.Force {
			return res, &errStatus{http.StatusConflict, peerErr.Error() + ": cannot check that it is healthy; refusing (use --force to demote anyway)"}
		}
		res.Note = peerErr.Error() + "; forced"
	} else if why := unhealthy(peer, masters); why != "" {
		if !req.Force {
			return res, &errStatus{http.StatusConflict, fmt.Sprintf("peer %s is not ready to take over: %s; refusing (use --force to demote anyway)", peer.Node, why)}
		}
		res.Note = fmt.Sprintf("peer %s: %s; forced", peer.Node, why)
	}
	if peer != nil && peer.Demoted {
		// A peer left demoted by an earlier failover would only take over at priority 1.
		if err := s.opts.Peer.Demote(ctx, false); err != nil {
			return res, fmt.Errorf("clearing the peer's earlier demotion: %w", err)
		}
	}

	t0 := time.Now()
	if err := s.t.Demote(true); err != nil {
		return res, err
	}
	if !req.Wait {
		res.Note = strings.TrimPrefix(res.Note+"; demoted, not waiting for the peer", "; ")
		return res, nil
	}
	res.Waited = true
	who := ""
	ok := waitFor(ctx, timeout, 10*time.Millisecond, func() bool {
		cur := s.t.Status()
		for _, name := range masters {
			in := findInstance(cur.VRRP, name)
			if in == nil || in.State == "MASTER" {
				return false
			}
			// Without the peer's word, a master heard other than ourselves will do.
			if peer == nil && (in.Master == "" || in.Master == prevMaster[name]) {
				return false
			}
			if peer == nil {
				who = in.Master
			}
		}
		if peer == nil {
			return true
		}
		pctx, cancel := context.WithTimeout(ctx, s.opts.PeerTimeout)
		ps, err := s.opts.Peer.Status(pctx, true)
		cancel()
		if err != nil {
			return false
		}
		for _, name := range masters {
			in := findInstance(ps.Local.VRRP, name)
			if in == nil || in.State != "MASTER" {
				return false
			}
		}
		who = ps.Local.Node
		return true
	})
	res.TookMS = float64(time.Since(t0).Microseconds()) / 1000
	if !ok {
		return res, &errStatus{http.StatusGatewayTimeout, fmt.Sprintf("the peer was not seen master of %s within %v; this node stays demoted (priority 1) and takes the VIPs back only if no one else advertises", strings.Join(masters, ", "), timeout)}
	}
	res.Master = who
	return res, nil
}

// takeOver makes this node master by asking the peer to fail over to it.
func (s *Server) takeOver(ctx context.Context, req FailoverRequest, local NodeStatus) (FailoverResult, error) {
	res := FailoverResult{From: "", Forced: req.Force}
	if s.opts.Peer == nil {
		return res, &errStatus{http.StatusConflict, "no peer admin address configured: cannot ask the peer to step down (run applctl failover on the master instead)"}
	}
	allMaster := len(local.VRRP) > 0
	for _, in := range local.VRRP {
		if in.State != "MASTER" {
			allMaster = false
		}
	}
	if allMaster {
		return FailoverResult{From: local.Node, Master: local.Node, Note: "already master"}, nil
	}
	// The peer clears this node's demotion itself (it sees it in our status) just
	// before demoting itself, so neither node is ever left without a candidate.
	preq := FailoverRequest{Wait: req.Wait, Force: req.Force, Timeout: req.Timeout}
	r, err := s.opts.Peer.Failover(ctx, preq)
	if err != nil {
		return r, fmt.Errorf("peer %s: %w", s.opts.Peer.Where, err)
	}
	return r, nil
}

func findInstance(ins []Instance, name string) *Instance {
	for i := range ins {
		if ins[i].Name == name {
			return &ins[i]
		}
	}
	return nil
}

// unhealthy says why the peer should not take over the instances, "" when it can.
func unhealthy(peer *NodeStatus, instances []string) string {
	var why []string
	if !peer.Ready {
		why = append(why, "not ready (proxy or VRRP not up)")
	}
	for _, name := range instances {
		in := findInstance(peer.VRRP, name)
		switch {
		case in == nil:
			why = append(why, fmt.Sprintf("runs no instance %s", name))
		case in.State != "BACKUP" && in.State != "MASTER":
			why = append(why, fmt.Sprintf("%s is %s", name, in.State))
		}
	}
	for _, c := range peer.Checks {
		if !c.OK {
			why = append(why, fmt.Sprintf("check %s failing (%d of %d servers up in %s)", c.Name, c.Up, c.MinUp, c.Backend))
		}
	}
	return strings.Join(why, ", ")
}
