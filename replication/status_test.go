package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestStatusLeadershipAndRemove(t *testing.T) {
	var vrrp = map[string]string{"VI_1": "BACKUP"}
	c := newCluster(t, 2, true, func(cfg *Config) {
		cfg.StatusEvery = 50 * time.Millisecond
		cfg.LocalStatus = func() MemberStatus {
			return MemberStatus{VRRP: vrrp, Health: "2/2 up", ConfigHash: "abc"}
		}
	})
	a, b, w := c.boxes()[0], c.boxes()[1], c.byID("witness")
	commitAndRead(t, a, b, "k", "v")

	// Leadership follows the VRRP master, both ways.
	for _, m := range []*tnode{b, a} {
		m.n.OnLocalMaster()
		waitFor(t, 10*time.Second, m.id+" leads after OnLocalMaster", func() bool { return m.n.IsLeader() })
		m.n.OnLocalBackup()
	}
	if err := a.n.TransferLeadershipTo(t.Context(), b.id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "explicit transfer", func() bool { return b.n.IsLeader() })

	waitFor(t, 10*time.Second, "gossiped statuses", func() bool {
		ms := a.n.Status(t.Context()).Members
		ok := 0
		for _, m := range ms {
			if m.Alive && m.ConfigHash == "abc" && m.RaftAddr != "" {
				ok++
			}
		}
		return ok == 3
	})
	st := a.n.Status(t.Context())
	if st.Leader != b.id || st.Term == 0 || st.CommitIndex == 0 || len(st.Voters) != 3 || !st.Quorum {
		t.Fatalf("status: %+v", st)
	}
	for _, v := range st.Voters {
		if !v.Reachable || v.AppliedIndex == 0 {
			t.Fatalf("voter %+v", v)
		}
	}
	var roles []string
	for _, m := range st.Members {
		roles = append(roles, m.Node+":"+m.Role)
	}
	if got := strings.Join(roles, ","); got != "n0:appliance,n1:appliance,witness:witness" {
		t.Fatalf("roles %s", got)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Fatal(err)
	}

	// Remove the witness: two voters remain, writes still commit, and the
	// removed node's own requests do not bring it back.
	if err := a.n.RemoveNode(t.Context(), w.id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "two voters on the boxes", func() bool {
		return len(a.n.Voters()) == 2 && len(b.n.Voters()) == 2
	})
	commitAndRead(t, a, b, "after-remove", "1")
	// The removed node keeps running and asks to be admitted (every second
	// once it has no leader): watch a bounded window for it to come back.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		for _, v := range a.n.Voters() {
			if v == w.id {
				t.Fatal("removed node re-admitted itself")
			}
		}
	}
}

func TestEntryCodecAndSnapshotFormat(t *testing.T) {
	recs := []record{{"a", []byte("1")}, {"stick/web", bytes.Repeat([]byte{7}, 1000)}, {"", nil}}
	kind, inc, got, err := decodeEntry(encodePublish(42, recs))
	if err != nil || kind != entryPublish || inc != 42 || len(got) != 3 || got[1].stream != "stick/web" || len(got[1].payload) != 1000 {
		t.Fatalf("publish round trip: %v %v %v %v", kind, inc, got, err)
	}
	kind, _, got, err = decodeEntry(encodeCommit(entryCommit, 1, "maps", []byte("x=y")))
	if err != nil || kind != entryCommit || got[0].stream != "maps" || string(got[0].payload) != "x=y" {
		t.Fatalf("commit round trip: %v %v %v", kind, got, err)
	}
	for _, bad := range [][]byte{nil, {1}, {9, 0, 0, 0, 0, 0, 0, 0, 0}, append(encodeCommit(entryCommit, 1, "maps", []byte("x=y"))[:12], 0xff)} {
		if _, _, _, err := decodeEntry(bad); err == nil {
			t.Errorf("decodeEntry(%x) accepted", bad)
		}
	}
	// A snapshot carries every stream; unknown streams are skipped on restore.
	s1, s2 := newKV("maps"), newKV("kv")
	s1.set("m", "1")
	for i := range 5000 {
		s2.set(strings.Repeat("k", 10)+string(rune('a'+i%26))+string(rune('0'+i%10))+itoa(i), "v")
	}
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, []Replicated{s1, s2, newKV("gone")}); err != nil {
		t.Fatal(err)
	}
	f := newFSM(1)
	r1, r2 := newKV("maps"), newKV("kv")
	f.register(r1)
	f.register(r2)
	if err := f.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if r1.len() != 1 || r2.len() != s2.len() {
		t.Fatalf("restored %d and %d entries", r1.len(), r2.len())
	}
	if err := f.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()[:buf.Len()/2]))); err == nil {
		t.Fatal("truncated snapshot restored without error")
	}
	// The publisher's own entries are not applied again; others' are.
	own := &raft.Log{Index: 5, Type: raft.LogCommand, Data: encodePublish(1, []record{{"kv", []byte("own=1")}})}
	other := &raft.Log{Index: 6, Type: raft.LogCommand, Data: encodePublish(2, []record{{"kv", []byte("other=1")}})}
	f.Apply(own)
	f.Apply(other)
	if _, ok := r2.get("own"); ok {
		t.Fatal("own published entry applied again")
	}
	if _, ok := r2.get("other"); !ok {
		t.Fatal("peer's published entry not applied")
	}
	if res := f.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: encodeCommit(entryCommit, 1, "kv", []byte("bad"))}); res == nil {
		t.Fatal("apply error not returned")
	}
	if err := f.waitApplied(context.Background(), 7); err == nil {
		t.Fatal("commit result not kept for the waiter")
	}
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}
