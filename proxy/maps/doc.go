// Package maps owns map files and ACL pattern files: loading them, matching
// samples against them (str, beg, sub, dom, end, dir, reg, int ranges, IPv4/IPv6
// by longest prefix, len, found) and editing them at run time through one Store
// (the runtime API's show/get/add/set/del/clear map and acl commands).
//
// Every edit is also emitted as a Delta to a Sink, and each map can be
// snapshotted and restored, in the same shape as proxy/stick (Sink.Deltas,
// Store.SetSink/Flush/Close/Pending, Store.Apply, Snapshot/Restore,
// MarshalDeltas/UnmarshalDeltas) so that replication treats both alike:
//
//   - Entries carry ids assigned by their Ref (per file, counting from 1, so
//     two boxes that load the same file agree on them); `show map` prints them
//     as 0x... like HAProxy prints its pointers. Deltas name entries by id.
//   - Deltas of one Ref keep their order. The queue is bounded (SetMaxPending,
//     default 16 batches): beyond it, the queued deltas of the Ref with the most
//     of them are dropped and replaced by one OpReplace carrying the whole map,
//     built at the next flush (coalescing; edits never wait for the sink).
//   - For writes committed through consensus before they are applied, reserve an
//     id with Ref.ReserveID (after Ref.CheckKey), commit the OpAdd, and Apply it
//     on every node including the origin.
//   - Apply is idempotent: an add of an id that exists, a delete of an id that
//     does not, are counted as stale and ignored.
//
// Lookups (per request) read-lock one of 16 cache-line-padded shards of the Ref's
// lock, chosen from the key, so lookups on different cores do not contend; edits
// lock every shard. Indexes are built per (match kind, case) on first use and kept
// up to date by every edit. IPv4 longest-prefix lookup probes one hash map per prefix
// length present, skipping lengths whose top-16-bit filter has no entry.
//
// It must not know about ACL syntax, the data plane or the configuration: proxy/acl
// and the runtime API call it.
package maps
