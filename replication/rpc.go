package replication

import (
	"context"
	"crypto/hmac"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Requests between members, on the cluster listener after the protoRPC
// byte: frames of [uint32 length][op][body], answered by
// [uint32 length][status][body]. A connection carries any number of them.
const (
	opApply    byte = 1 // body: a log entry; answer: uint64 index once committed
	opAddVoter byte = 2 // body: JSON addVoterReq
	opRemove   byte = 3 // body: node id
	opTransfer byte = 4 // body: node id to hand leadership to
	opStatus   byte = 5 // answer: JSON peerStats
	opDirect   byte = 6 // body: a published batch (entry encoding), applied on arrival

	stOK        byte = 0
	stErr       byte = 1
	stNotLeader byte = 2 // body: the leader's address if known
	stNoQuorum  byte = 3
	stRemoved   byte = 4

	maxFrame = 256 << 20 // a resync entry carries a whole table
)

type addVoterReq struct {
	ID      string `json:"id"`
	Addr    string `json:"addr"`
	Witness bool   `json:"witness"`
}

// peerStats is what a member tells the leader for `cluster status`.
type peerStats struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	GossipAddr   string `json:"gossip_addr,omitempty"`
}

type rpcError struct {
	status byte
	msg    string
}

func (e *rpcError) Error() string { return e.msg }

func writeFrame(w io.Writer, kind byte, body []byte) error {
	b := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)+1))
	b[4] = kind
	b = append(b, body...)
	_, err := w.Write(b)
	return err
}

func readFrame(r io.Reader) (kind byte, body []byte, err error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n == 0 || n > maxFrame {
		return 0, nil, errors.New("replication: bad frame length")
	}
	body = make([]byte, n-1)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return h[4], body, nil
}

// serveRPC answers one member's requests until it hangs up.
func (n *Node) serveRPC(c *tls.Conn) {
	defer c.Close()
	for {
		op, body, err := readFrame(c)
		if err != nil {
			return
		}
		st, out := n.handleRPC(op, body)
		_ = c.SetWriteDeadline(time.Now().Add(n.cfg.RPCTimeout))
		if err := writeFrame(c, st, out); err != nil {
			return
		}
		_ = c.SetWriteDeadline(time.Time{})
	}
}

func (n *Node) handleRPC(op byte, body []byte) (byte, []byte) {
	errAnswer := func(err error) (byte, []byte) {
		switch {
		case errors.Is(err, ErrNotLeader):
			addr, _ := n.leader()
			return stNotLeader, []byte(addr)
		case errors.Is(err, ErrNoQuorum):
			return stNoQuorum, []byte(err.Error())
		case errors.Is(err, ErrRemoved):
			return stRemoved, []byte(err.Error())
		}
		return stErr, []byte(err.Error())
	}
	switch op {
	case opApply:
		idx, err := n.applyLocal(body, n.cfg.WriteTimeout)
		if err != nil {
			return errAnswer(err)
		}
		return stOK, binary.BigEndian.AppendUint64(nil, idx)
	case opAddVoter:
		var req addVoterReq
		if err := json.Unmarshal(body, &req); err != nil || req.ID == "" || req.Addr == "" {
			return stErr, []byte("malformed add-voter request")
		}
		if err := n.addVoterLocal(req); err != nil {
			return errAnswer(err)
		}
		return stOK, nil
	case opRemove:
		if err := n.removeLocal(string(body)); err != nil {
			return errAnswer(err)
		}
		return stOK, nil
	case opTransfer:
		if err := n.transferLocal(string(body)); err != nil {
			return errAnswer(err)
		}
		return stOK, nil
	case opStatus:
		b, _ := json.Marshal(n.localStats())
		return stOK, b
	case opDirect:
		if err := n.applyDirect(body); err != nil {
			return stErr, []byte(err.Error())
		}
		return stOK, nil
	}
	n.malformedRPC.Add(1)
	return stErr, []byte("unknown request")
}

// rpcPool keeps idle connections to members so a forwarded write does not
// pay a TLS handshake.
type rpcPool struct {
	mu   sync.Mutex
	idle map[string][]net.Conn
}

func (n *Node) call(ctx context.Context, addr string, op byte, body []byte) ([]byte, error) {
	n.pool.mu.Lock()
	var c net.Conn
	if l := n.pool.idle[addr]; len(l) > 0 {
		c = l[len(l)-1]
		n.pool.idle[addr] = l[:len(l)-1]
	}
	n.pool.mu.Unlock()
	fresh := false
	if c == nil {
		timeout := n.cfg.RPCTimeout
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
			timeout = max(time.Until(dl), time.Millisecond)
		}
		var err error
		c, err = n.layer().dial(addr, timeout)
		if err != nil {
			return nil, err
		}
		if _, err := c.Write([]byte{protoRPC}); err != nil {
			c.Close()
			return nil, err
		}
		fresh = true
	}
	dl := time.Now().Add(n.cfg.RPCTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	_ = c.SetDeadline(dl)
	st, out, err := func() (byte, []byte, error) {
		if err := writeFrame(c, op, body); err != nil {
			return 0, nil, err
		}
		return readFrame(c)
	}()
	if err != nil {
		c.Close()
		if !fresh && ctx.Err() == nil {
			// An idle connection the peer closed (restart): retry once on a new one.
			return n.call(ctx, addr, op, body)
		}
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	n.pool.mu.Lock()
	if n.pool.idle == nil {
		n.pool.idle = map[string][]net.Conn{}
	}
	if len(n.pool.idle[addr]) < 4 {
		n.pool.idle[addr] = append(n.pool.idle[addr], c)
		c = nil
	}
	n.pool.mu.Unlock()
	if c != nil {
		c.Close()
	}
	switch st {
	case stOK:
		return out, nil
	case stNotLeader:
		return out, fmt.Errorf("%w (leader %q)", ErrNotLeader, out)
	case stNoQuorum:
		return nil, ErrNoQuorum
	case stRemoved:
		return nil, ErrRemoved
	}
	return nil, &rpcError{status: st, msg: string(out)}
}

func (p *rpcPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.idle {
		for _, c := range l {
			c.Close()
		}
	}
	p.idle = nil
}

// Join handshake: the joiner, with no certificate yet, shows the token's
// key over a TLS connection pinned to the token's CA fingerprint; a member
// that recomputes the same key answers with the cluster material.
type joinReq struct {
	Node string `json:"node"`
	Key  string `json:"key"`
}

type joinResp struct {
	Error  string `json:"error,omitempty"`
	CACert string `json:"ca_cert,omitempty"`
	CAKey  string `json:"ca_key,omitempty"`
	Secret string `json:"secret,omitempty"`
}

func (n *Node) serveJoin(c *tls.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(n.cfg.RPCTimeout))
	_, body, err := readFrame(c)
	if err != nil {
		return
	}
	var req joinReq
	var resp joinResp
	if json.Unmarshal(body, &req) != nil {
		resp.Error = "malformed join request"
	} else if key, kerr := hex.DecodeString(req.Key); kerr != nil || !hmac.Equal(key, n.mat.joinKey()) {
		n.badJoins.Add(1)
		resp.Error = ErrBadToken.Error()
	} else {
		resp = joinResp{
			CACert: string(n.mat.caCertPEM),
			CAKey:  string(n.mat.caKeyPEM),
			Secret: hex.EncodeToString(n.mat.secret),
		}
	}
	b, _ := json.Marshal(resp)
	_ = writeFrame(c, stOK, b)
}

// JoinCluster fetches the cluster material from a member at addr, showing
// token, and stores it under dataDir (`applctl cluster join ADDR --token
// T`). Start the node afterwards with Config.Join naming addr: it then asks
// to be added as a voter.
func JoinCluster(ctx context.Context, dataDir, nodeID, addr, token string) error {
	tok, err := parseToken(token)
	if err != nil {
		return err
	}
	d := &net.Dialer{}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	} else {
		d.Timeout = 10 * time.Second
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("replication: join %s: %w", addr, err)
	}
	tc := tls.Client(raw, pinnedClientConfig(tok.fingerprint))
	defer tc.Close()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	_ = tc.SetDeadline(dl)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("replication: join %s: %w", addr, err)
	}
	body, _ := json.Marshal(joinReq{Node: nodeID, Key: hex.EncodeToString(tok.key)})
	if _, err := tc.Write([]byte{protoJoin}); err != nil {
		return err
	}
	if err := writeFrame(tc, 0, body); err != nil {
		return err
	}
	_, out, err := readFrame(tc)
	if err != nil {
		return fmt.Errorf("replication: join %s: %w", addr, err)
	}
	var resp joinResp
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("replication: join %s: malformed answer", addr)
	}
	if resp.Error != "" {
		if resp.Error == ErrBadToken.Error() {
			return ErrBadToken
		}
		return fmt.Errorf("replication: join %s: %s", addr, resp.Error)
	}
	m, err := parseMaterial([]byte(resp.CACert), []byte(resp.CAKey), resp.Secret)
	if err != nil {
		return err
	}
	if sum := m.fingerprint(); !hmac.Equal(sum, tok.fingerprint) {
		return errors.New("replication: join: received CA does not match the token")
	}
	return m.write(dataDir)
}
