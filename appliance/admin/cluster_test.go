package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeCluster is a node with the cluster side.
type fakeCluster struct {
	*fakeNode
	joined  string
	pushed  []byte
	quorum  bool
	invalid bool
}

func (f *fakeCluster) ClusterInit() (string, error)  { return "appl-join-v1.aa.bb", nil }
func (f *fakeCluster) ClusterToken() (string, error) { return "appl-join-v1.aa.bb", nil }
func (f *fakeCluster) ClusterJoin(_ context.Context, addr, token string) error {
	if token != "appl-join-v1.aa.bb" {
		return errors.New("replication: invalid join token")
	}
	f.joined = addr
	return nil
}
func (f *fakeCluster) ClusterStatus(context.Context) (any, error) {
	return map[string]any{"node": "lb1", "state": "Leader"}, nil
}
func (f *fakeCluster) ClusterRemove(context.Context, string) error { return nil }
func (f *fakeCluster) ClusterRecover() error                       { f.quorum = true; return nil }
func (f *fakeCluster) ConfigPush(_ context.Context, data []byte) (ReloadResult, error) {
	if f.invalid {
		return ReloadResult{Errors: []string{"/etc/appl/appl.cfg:3: bad"}}, nil
	}
	if !f.quorum {
		return ReloadResult{}, errors.New("replication: no quorum: the cluster peer is unreachable")
	}
	f.pushed = data
	return ReloadResult{OK: true, ConfigHash: "abc"}, nil
}

func TestClusterEndpoints(t *testing.T) {
	f := &fakeCluster{fakeNode: newFake("lb1", "MASTER")}
	c, _ := unixServer(t, New(f, Options{}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if tok, err := c.ClusterInit(ctx); err != nil || tok != "appl-join-v1.aa.bb" {
		t.Fatalf("init: %q %v", tok, err)
	}
	if err := c.ClusterJoin(ctx, "198.18.0.1:7400", "appl-join-v1.xx.yy"); err == nil || !strings.Contains(err.Error(), "invalid join token") || strings.Contains(err.Error(), "replication:") {
		t.Fatalf("bad token: %v", err)
	}
	if err := c.ClusterJoin(ctx, "198.18.0.1:7400", "appl-join-v1.aa.bb"); err != nil || f.joined != "198.18.0.1:7400" {
		t.Fatalf("join: %v %q", err, f.joined)
	}
	var st map[string]any
	if err := c.ClusterStatus(ctx, &st); err != nil || st["state"] != "Leader" {
		t.Fatalf("status: %v %v", st, err)
	}
	_, err := c.ConfigPush(ctx, []byte("global\n"))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 503 || !strings.HasPrefix(ae.Msg, "no quorum: ") {
		t.Fatalf("push without quorum: %v", err)
	}
	if err := c.ClusterRecoverForceSingle(ctx); err != nil || !f.quorum {
		t.Fatalf("recover: %v", err)
	}
	if res, err := c.ConfigPush(ctx, []byte("global\n")); err != nil || !res.OK || string(f.pushed) != "global\n" {
		t.Fatalf("push: %+v %v", res, err)
	}
	f.invalid = true
	if _, err := c.ConfigPush(ctx, []byte("x\n")); !errors.As(err, &ae) || ae.Status != 422 || len(ae.Errors) != 1 {
		t.Fatalf("invalid push: %v", err)
	}
}

// Membership and push are not served over HTTPS (the bearer token must not reach the
// join token); a node without the cluster side answers 501.
func TestClusterEndpointsScope(t *testing.T) {
	f := &fakeCluster{fakeNode: newFake("lb1", "MASTER")}
	_, hc := httpsPeer(t, f.fakeNode, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ae *APIError
	if _, err := hc.ClusterToken(ctx); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("token over HTTPS: %v", err)
	}
	if err := hc.ClusterStatus(ctx, &map[string]any{}); !errors.As(err, &ae) || ae.Status != 501 {
		t.Fatalf("status on a node without replication: %v", err)
	}
}
