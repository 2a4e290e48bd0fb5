package maps

import "sync"

// rwShards is a reader-writer lock split in cache-line-padded shards: a lookup read-locks
// one shard chosen from its key, so lookups of different keys on different cores do not
// bounce one reader counter between them; an edit write-locks every shard (edits are
// rare). RLock/RUnlock use shard 0, for the Ref's own (non-hot) readers.
type rwShards struct {
	s [numShards]struct {
		sync.RWMutex
		_ [64 - 24]byte
	}
}

const numShards = 16

func (l *rwShards) Lock() {
	for i := range l.s {
		l.s[i].Lock()
	}
}

func (l *rwShards) Unlock() {
	for i := len(l.s) - 1; i >= 0; i-- {
		l.s[i].Unlock()
	}
}

func (l *rwShards) RLock()   { l.s[0].RLock() }
func (l *rwShards) RUnlock() { l.s[0].RUnlock() }

// rlockAt read-locks the shard of hash h and returns its index for runlockAt.
func (l *rwShards) rlockAt(h uint32) uint32 {
	i := (h * 0x9E3779B1) >> (32 - 4)
	l.s[i].RLock()
	return i
}

func (l *rwShards) runlockAt(i uint32) { l.s[i].RUnlock() }

func strHash(s string) uint32 {
	if len(s) == 0 {
		return 0
	}
	return uint32(len(s)) ^ uint32(s[0])<<8 ^ uint32(s[len(s)-1])<<16 ^ uint32(s[len(s)/2])<<24
}
