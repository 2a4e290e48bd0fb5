// Package cluster adapts the node's data to replication: one stream per stick table
// (deltas published in batches, last writer wins), the map store (each runtime edit
// committed through Raft before it is acknowledged, entry ids taken from the Raft index
// so two boxes adding at once never collide), and the runtime API's write commands
// (`add/set/del/clear map|acl`, `set server ... state|weight`), which it turns into
// committed entries instead of local edits.
//
// It knows the stick, maps and runtime packages and a Committer (replication.Node's
// Commit); it does not know the proxy, VRRP, the admin API or how a node is composed:
// appliance wires it.
package cluster
