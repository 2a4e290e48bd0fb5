package replication

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
)

// directSeen remembers the published payloads this process applied from
// another box's direct batch, so that the same payload arriving again in
// a Raft entry is not decoded and applied a second time (on a standby that
// was ~8 % of its CPU under a stick load: every update twice). Skipping is
// safe because the state it would have re-applied is already in memory in
// this process; whatever may have replaced that memory forgets the set: a
// snapshot restore or a resync entry (they may load a stream anew) and a
// restart (a new process replays its log in full). A payload is known by
// a hash of its publisher's incarnation, stream and bytes.
type directSeen struct {
	mu  sync.Mutex
	set map[uint64]struct{}
}

const directSeenMax = 16384 // payloads: > 10 s of 10 ms table flushes for 10 tables

var directSeed = maphash.MakeSeed()

func directKey(inc uint64, stream string, payload []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(directSeed)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], inc)
	h.Write(b[:])
	h.WriteString(stream)
	h.WriteByte(0)
	h.Write(payload)
	return h.Sum64()
}

// add notes a payload applied directly. Each is taken out again when its
// Raft copy comes; if copies stop coming (this box no longer follows that
// publisher's log, e.g. while partitioned), the set fills and is dropped
// whole: the payloads it named are then applied twice, which is harmless.
func (s *directSeen) add(k uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil || len(s.set) >= directSeenMax {
		s.set = make(map[uint64]struct{})
	}
	s.set[k] = struct{}{}
}

// take says whether k was applied directly, and forgets it: a payload
// comes once by Raft.
func (s *directSeen) take(k uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[k]; ok {
		delete(s.set, k)
		return true
	}
	return false
}

func (s *directSeen) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.set)
}
