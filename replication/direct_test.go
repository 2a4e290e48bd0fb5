package replication

import (
	"bytes"
	"testing"
)

// A payload applied from a direct batch is not applied again when its Raft
// copy comes, but only once: a replay of the log applies it, and so does
// everything after a snapshot restore or a resync, which may have loaded
// the stream anew.
func TestDirectPayloadNotAppliedTwice(t *testing.T) {
	const peerInc = 7
	f := newFSM(1)
	kv := newKV("kv")
	if err := f.register(kv); err != nil {
		t.Fatal(err)
	}
	recs := []record{{"kv", []byte("a=1\n")}, {"kv", []byte("b=2\n")}}
	entry := encodePublish(peerInc, recs)
	if n, err := f.applyDirect(entry); err != nil || n != 2 {
		t.Fatalf("direct apply: %d records, %v", n, err)
	}
	if got := kv.applyCount(); got != 2 {
		t.Fatalf("%d applies after the direct batch, want 2", got)
	}
	if err := f.applyEntry(10, entry); err != nil {
		t.Fatal(err)
	}
	if got, dups := kv.applyCount(), f.directDups.Load(); got != 2 || dups != 2 {
		t.Fatalf("Raft copy: %d applies, %d skipped; want 2 and 2", got, dups)
	}
	if err := f.applyEntry(10, entry); err != nil { // a replay of the same entry
		t.Fatal(err)
	}
	if got := kv.applyCount(); got != 4 {
		t.Fatalf("replayed entry: %d applies, want 4", got)
	}
	// Another box's batch that differs by one byte is a different payload.
	if _, err := f.applyDirect(encodePublish(peerInc, []record{{"kv", []byte("c=3\n")}})); err != nil {
		t.Fatal(err)
	}
	if err := f.applyEntry(11, encodePublish(peerInc, []record{{"kv", []byte("c=4\n")}})); err != nil {
		t.Fatal(err)
	}
	if v, _ := kv.get("c"); v != "4" {
		t.Fatalf("c = %q after a different Raft payload, want 4", v)
	}
	// After a restore, the Raft copy of an earlier direct payload applies.
	if _, err := f.applyDirect(encodePublish(peerInc, []record{{"kv", []byte("d=5\n")}})); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := writeSnapshot(&snap, []Replicated{newKV("kv")}); err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(nopCloser{bytes.NewReader(snap.Bytes())}); err != nil {
		t.Fatal(err)
	}
	before := kv.applyCount()
	if err := f.applyEntry(12, encodePublish(peerInc, []record{{"kv", []byte("d=5\n")}})); err != nil {
		t.Fatal(err)
	}
	if kv.applyCount() != before+1 {
		t.Fatal("the Raft copy of a direct payload was skipped after a restore")
	}
	// Only published batches come directly; this node's own are ignored.
	if _, err := f.applyDirect(encodeCommit(entryCommit, peerInc, "kv", []byte("e=6\n"))); err == nil {
		t.Fatal("a Commit entry was taken as a direct batch")
	}
	if n, err := f.applyDirect(encodePublish(1, []record{{"kv", []byte("f=7\n")}})); err != nil || n != 0 {
		t.Fatalf("own batch: %d records, %v; want 0, nil", n, err)
	}
}
