// Package stick implements HAProxy-compatible stick tables: keys (ip,
// ipv6, integer, string, binary), the stored data (server_id, server_key,
// conn_cnt, conn_cur, conn_rate(P), sess_*, http_req_*, http_err_*,
// http_fail_*, bytes_in/out_*, gpc0/1, gpc0/1_rate(P), gpt0), HAProxy's
// sliding-window rates, expiry, size eviction, the text of `show table`,
// `set table` and `clear table`, and the delta stream and snapshots that
// replicate tables between the two boxes.
//
// It owns the data structure only. It does not know the proxy (which
// fetches keys from connections and calls the Entry methods), the runtime
// API (which splits command lines and prints the answers this package
// formats), nor replication (which consumes the interface below). It
// imports no other appl package but internal/cfgfile (HAProxy time syntax).
//
// # Tables
//
//	def, err := stick.ParseDef(words)          // words of a stick-table line
//	def.EnableServer()                          // when stick on/match/store use it
//	t := stick.New("backend_name", def, stick.Options{})
//	k, ok := t.AddrKey(clientAddr)              // or IntKey, StringKey, BinaryKey, ParseKey
//	e, err := t.Track(k)                        // track-sc: GetOrCreate + in use
//	e.CountConn(); ...; e.ConnClosed(); e.Release()
//	if e := t.Lookup(k); e != nil { id, name := e.Server() }   // stick match
//
// Lookup neither creates nor refreshes; GetOrCreate and Track refresh the
// expiry, as does every change. Entry handles stay valid after removal
// (changes through them are then ignored). Entries in use (Track/Acquire
// until Release) are neither expired nor evicted nor cleared. A full table
// evicts its least recently used entry not in use (unless nopurge: then
// GetOrCreate fails with ErrFull until something expires). The LRU order
// is kept to Options.LRUGranularity (default expire/16, at most 10s), and
// eviction is per shard with a look at other shards when the key's shard
// has nothing to give, so it is close to, not exactly, HAProxy's oldest
// first. PurgeExpired is for the proxy to call periodically; lookups drop
// expired entries by themselves.
//
// Values follow HAProxy's widths: 32-bit counters wrap on `set table` like
// HAProxy's, bytes_* counters are 64-bit. Rates are HAProxy's freq_ctr:
// the events of the current period plus those of the previous period
// weighted by the part of the window that still overlaps it.
//
// # Concurrency and time
//
// A table is split into up to 64 shards by key hash, each with a mutex; an
// update locks one shard once. The default clock is a process-wide
// millisecond clock read with one atomic load (time.Now costs ~100 ns on
// the appliance VMs); Options.Now takes a fake clock for tests. Times are
// Unix based (so they mean the same on both boxes) but advance with the
// monotonic clock.
//
// # Runtime API text
//
// Header, Show, ParseFilter, ExecSet, ExecClear produce HAProxy 2.6's output
// and error texts (checked against a real haproxy on its stats socket):
//
//	# table: NAME, type: ip, size:N, used:M
//	0x...: key=1.2.3.4 use=0 exp=MS server_id=1 conn_cnt=3 conn_rate(30000)=1 server_key=web1
//
// The runtime API adds the empty line that ends each answer. Differences:
// ExecSet accepts data.server_key NAME, binary keys are given in hex, and
// an ipv6 table accepts an IPv4 key (stored ::ffff:a.b.c.d as traffic does).
//
// # Replication interface
//
// The data plane never waits on replication. Every local change marks its
// entry dirty (once; a flag and an append to the shard's list), and a
// flusher goroutine hands the entries' current states to the consumer:
//
//	type Sink interface{ Deltas(batch []Delta) }
//	t.SetSink(sink, maxBatch, flushEvery) // flush every flushEvery or when maxBatch keys wait
//	t.Flush()                             // now (tests, shutdown); t.Close() stops the flusher
//
// A Delta is {Table, Op, Key, UpdatedAt (Unix ns), ExpiresAt (Unix ms, 0 =
// never), Fields}: OpSet carries the full data of the entry (every stored
// type, rates as current/previous/tick), so deltas are idempotent and a
// newer one replaces an older one; OpDelete is an explicit delete or a
// size eviction; OpClear is `clear table` (removes everything not newer).
// While the sink is slow, changes coalesce per key: pending memory is at
// most one mark per entry plus a bounded set of deletions
// (DroppedTombstones counts those given up; peers then drop them by their
// own expiry/LRU). Expiry is not sent: each side expires an entry at the
// same ExpiresAt. Deletions are sent before new entries so that a peer of
// the same size makes room first. Deltas are delivered in batches of at
// most maxBatch; the batch belongs to the sink.
//
//	stats := t.Apply(batch) // remote deltas
//
// Apply is last-writer-wins by UpdatedAt (ties broken by comparing the
// encoded states, so both sides pick the same), skips deltas of other
// tables and malformed keys, and does not emit what it applies (no echo).
// Applying a batch twice changes nothing. A local change to an entry
// always gets an UpdatedAt above the entry's previous one, even when the
// peer's clock is ahead. Deletions are not remembered: an OpSet older than
// a deletion applied later would bring the key back, which the ordered Raft
// log rules out.
//
//	b := stick.MarshalDeltas(batch); batch, err := stick.UnmarshalDeltas(b) // compact, versioned
//	err := t.Snapshot(w)  // whole table while serving (consistent per entry)
//	err := t.Restore(r)   // merges like Apply; Clear first to replace
//
// The replication package wraps Deltas into Raft log entries (one batch per
// entry), applies committed entries with Apply on the follower, and uses
// Snapshot/Restore for Raft snapshots. The proxy keeps tables across a
// reload, so nothing is re-learned.
package stick
