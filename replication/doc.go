// Package replication keeps the two boxes (and an optional witness) in
// agreement: a hashicorp/raft cluster with a durable log (raft-boltdb) and
// snapshots under the node's data dir, over one mutual-TLS port whose
// certificates come from a cluster CA, and hashicorp/memberlist (with an
// encrypted keyring) gossiping each node's live status.
//
// It owns the cluster material (CA, node certificates, join token), the
// Raft state machine, the batching of published deltas, forwarding of
// writes to the leader, leadership hand-over to the VRRP master, witness
// mode, no-quorum refusal and forced single-node recovery, and the status
// shown by `applctl cluster status`.
//
// It does not know what it replicates: every replicated thing is a
// Replicated stream (a stick table, a map store, server states, the config
// file) whose payloads and snapshots are opaque bytes. It imports no other
// appl package; the appliance wires proxy/stick and proxy/maps to it with
// small adapters:
//
//	stick: table.SetSink(sinkFunc(func(b []stick.Delta) { node.Publish(name, stick.MarshalDeltas(b)) }), 256, 10*time.Millisecond)
//	       ApplyRemote = UnmarshalDeltas + table.Apply; Snapshot/Restore = table's
//	maps:  runtime edits go through node.Commit(ctx, "maps", maps.MarshalDeltas(...)),
//	       acknowledged once applied; the adapter implements IndexedReplicated and
//	       gives an add its id at apply time from the Raft index (an id reserved on
//	       the accepting node collides when both boxes take adds at once)
//
// Both adapters are in this package's tests (stick_test.go, maps_test.go),
// run against the real proxy/stick and proxy/maps.
//
// # Lifecycle
//
//	token, _ := replication.InitCluster(dataDir)              // first box: CA + secret
//	n, _ := replication.Start(replication.Config{NodeID: "a", DataDir: dataDir,
//	        BindAddr: ..., GossipAddr: ...}, streams...) // bootstraps once after InitCluster
//	replication.JoinCluster(ctx, dataDir2, "b", addrOfA, token) // second box / witness
//	n2, _ := replication.Start(replication.Config{..., Join: []string{addrOfA}}, streams...)
//
// A node restarted with its data dir comes back by itself; one restarted
// with an empty data dir joins again with the token and receives a
// snapshot.
//
// # Writes
//
// Publish(stream, payload) never blocks: payloads are batched into Raft
// entries, at most one per Config.BatchEvery unless BatchMaxRecords or
// BatchMaxBytes fill one (a payload arriving after a quiet BatchEvery goes
// at once: the caller batched already), and the publishing process does
// not apply its own entries again. Each payload is also sent at once to the
// other boxes outside Raft (direct.go: best effort, applied in memory on
// arrival), so BatchEvery may be long: it then spaces the durable copies,
// each a bolt commit with two fsyncs on every box, while a standby's loss at
// a master kill is bounded by the caller's own batching. Commit(ctx,
// stream, payload) returns once the entry is committed and applied on this
// node; a follower forwards to the leader. With no quorum (a pair that lost
// a box, no witness) Commit fails with ErrNoQuorum until the peer returns or
// RecoverForceSingle is run on the survivor.
//
// # Two boxes
//
// Raft needs a majority: two voters survive nothing, two voters and a
// witness survive the loss of any one. The data plane never waits on
// Raft, so a lone box keeps serving from its local tables; published
// deltas wait (bounded), and a stream whose deltas were dropped is resent
// whole once a leader is back.
package replication
