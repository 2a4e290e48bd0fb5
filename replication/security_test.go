package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestTokenShapes(t *testing.T) {
	dir := t.TempDir()
	tok, err := InitCluster(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ParseToken(tok); err != nil {
		t.Fatalf("own token: %v", err)
	}
	again, err := ReadToken(dir)
	if err != nil || again != tok {
		t.Fatalf("ReadToken = %q, %v; want the init token", again, err)
	}
	if _, err := InitCluster(dir); err == nil {
		t.Fatal("InitCluster overwrote an existing cluster")
	}
	for _, bad := range []string{"", "x", "appl-join-v1.zz.yy", strings.Replace(tok, "appl-join-v1", "v0", 1), tok[:len(tok)-2]} {
		if err := ParseToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("ParseToken(%q) = %v", bad, err)
		}
	}
}

func TestWrongTokenOrCertificateCannotJoinOrRead(t *testing.T) {
	c := newCluster(t, 2, false, nil)
	a := c.boxes()[0]
	commitAndRead(t, a, c.boxes()[1], "secret", "s3cr3t")

	// A token whose key is wrong (right CA fingerprint).
	parts := strings.Split(c.token, ".")
	wrongKey := parts[0] + "." + parts[1] + "." + strings.Repeat("ab", 32)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := JoinCluster(ctx, t.TempDir(), "mallory", a.addr, wrongKey); !errors.Is(err, ErrBadToken) {
		t.Fatalf("join with a wrong key: %v, want ErrBadToken", err)
	}
	if a.n.badJoins.Load() == 0 {
		t.Fatal("bad join not counted")
	}
	// The token of another cluster: the pinned CA does not match.
	otherDir := t.TempDir()
	otherTok, err := InitCluster(otherDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := JoinCluster(ctx, t.TempDir(), "mallory", a.addr, otherTok); err == nil {
		t.Fatal("joined with another cluster's token")
	}

	// A node with a certificate from another CA: its TLS dial is refused,
	// so it can neither ask anything nor speak Raft.
	om, err := loadMaterial(otherDir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := om.nodeCert(otherDir, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	_, cli := om.tlsConfigs(cert)
	refusedBefore := a.n.layer().refused.Load()
	for _, first := range []byte{protoRPC, 0 /* AppendEntries */, 4 /* RequestPreVote */} {
		if got := tryRead(t, a.addr, cli, first); got != "" {
			t.Fatalf("foreign certificate read %q", got)
		}
	}
	// No certificate at all, but a valid CA pin: only join is served.
	tok, _ := parseToken(c.token)
	for _, first := range []byte{protoRPC, 0} {
		if got := tryRead(t, a.addr, pinnedClientConfig(tok.fingerprint), first); got != "" {
			t.Fatalf("client without certificate read %q", got)
		}
	}
	if a.n.layer().refused.Load() <= refusedBefore {
		t.Fatal("refused connections not counted")
	}
	// A node started on foreign material never becomes a voter.
	mmaps := newKV("maps")
	m, err := Start(Config{NodeID: "mallory", DataDir: otherDir, BindAddr: freePort(t), Join: []string{a.addr}, LogOutput: io.Discard}, mmaps)
	if err != nil {
		t.Fatal(err)
	}
	defer m.kill()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, v := range a.n.Voters() {
			if v == "mallory" {
				t.Fatal("foreign node became a voter")
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := mmaps.get("secret"); ok || mmaps.len() != 0 {
		t.Fatal("foreign node received the cluster's data")
	}

	// Gossip with a wrong key is not admitted.
	mc := memberlist.DefaultLANConfig()
	gaddr := freePort(t)
	host, port, _ := net.SplitHostPort(gaddr)
	mc.Name, mc.BindAddr, mc.AdvertiseAddr = "mallory-gossip", host, host
	mc.BindPort = atoi(port)
	mc.AdvertisePort = mc.BindPort
	mc.SecretKey = om.gossipKey()
	mc.LogOutput = io.Discard
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Shutdown()
	if _, err := ml.Join([]string{a.gaddr}); err == nil {
		t.Fatal("gossip join with a wrong key succeeded")
	}
	for _, mem := range a.n.gossip.ml.Members() {
		if mem.Name == "mallory-gossip" {
			t.Fatal("wrong-key gossip member admitted")
		}
	}
}

// tryRead opens a TLS connection, writes the protocol byte and a status
// request, and returns whatever comes back ("" when refused).
func tryRead(t *testing.T, addr string, cfg *tls.Config, first byte) string {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte{first}); err != nil {
		return ""
	}
	_ = writeFrame(c, opStatus, nil)
	b, _ := io.ReadAll(c)
	return string(b)
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}
