package replication

import (
	"sync"

	"github.com/hashicorp/raft"
)

// logCache keeps the most recent Raft entries in memory in front of the
// durable log store. hashicorp/raft reads back what it has just written:
// the leader reads the previous entry and the new ones for every
// AppendEntries it sends (heartbeat-like empty ones included), and a
// follower reads each entry again to apply it once it learns the commit.
// From bolt each read is a transaction plus a msgpack decode; under a
// stick-table load that was a few per cent of both boxes' CPU for nothing.
//
// raft.LogCache does the same but keeps every entry whatever its size; a
// resync entry (a whole table, up to hundreds of MB) would stay referenced
// until the ring wraps. This one skips entries above maxCachedEntry.
type logCache struct {
	raft.LogStore
	mu   sync.RWMutex
	ring []*raft.Log
}

const (
	logCacheSize   = 256       // entries: > 2 s of published batches at 100/s
	maxCachedEntry = 256 << 10 // bytes: larger entries are read back from disk
)

func newLogCache(store raft.LogStore) *logCache {
	return &logCache{LogStore: store, ring: make([]*raft.Log, logCacheSize)}
}

func (c *logCache) GetLog(index uint64, out *raft.Log) error {
	c.mu.RLock()
	l := c.ring[index%uint64(len(c.ring))]
	c.mu.RUnlock()
	if l != nil && l.Index == index {
		*out = *l
		return nil
	}
	return c.LogStore.GetLog(index, out)
}

func (c *logCache) StoreLog(l *raft.Log) error { return c.StoreLogs([]*raft.Log{l}) }

// StoreLogs caches only what the store accepted: a failed write must not
// be served from memory.
func (c *logCache) StoreLogs(logs []*raft.Log) error {
	if err := c.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	c.mu.Lock()
	for _, l := range logs {
		slot := l.Index % uint64(len(c.ring))
		if len(l.Data) > maxCachedEntry {
			c.ring[slot] = nil
			continue
		}
		c.ring[slot] = l
	}
	c.mu.Unlock()
	return nil
}

// DeleteRange forgets the whole cache: a truncated suffix may be rewritten
// with other entries at the same indexes.
func (c *logCache) DeleteRange(min, max uint64) error {
	c.mu.Lock()
	clear(c.ring)
	c.mu.Unlock()
	return c.LogStore.DeleteRange(min, max)
}
