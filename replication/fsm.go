package replication

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Replicated is one replicated stream: a stick table, a map store, the
// runtime server states, the config file. The payloads are the stream's
// own encoding (for example stick.MarshalDeltas); this package never looks
// inside them.
type Replicated interface {
	// Name is the stream's name, the same on every node.
	Name() string
	// ApplyRemote applies a payload committed through Raft. It must be
	// idempotent (the log may be replayed over a snapshot taken while it
	// was being applied) and must not publish what it applies. For
	// published streams it is called on the other nodes only (and, for
	// a node that lost its leader, on the not-yet-committed tail of its
	// log, possibly concurrently with Raft's own apply: published streams
	// must take concurrent calls); for Commit it is called on every node,
	// the writer's included, one at a time in log order.
	ApplyRemote(payload []byte) error
	// Snapshot writes the whole stream while it keeps serving.
	Snapshot(w io.Writer) error
	// Restore loads a snapshot. For published (last-writer-wins) streams
	// it may merge; it is also how a full resync from a peer arrives.
	Restore(r io.Reader) error
}

// IndexedReplicated is optionally implemented by a stream that needs the
// Raft index of what it applies: it is the same on every node and grows
// with each entry, so a stream can derive ids from it deterministically
// (a map entry id assigned at apply time instead of on the node that took
// the command, where two boxes taking adds at once would pick the same id).
// ApplyRemoteAt replaces ApplyRemote for log entries; the index of a
// Publish batch is shared by its payloads.
type IndexedReplicated interface {
	ApplyRemoteAt(index uint64, payload []byte) error
}

// Log entry kinds. The first byte of every entry; then the writer's
// incarnation (8 bytes), then the body.
const (
	entryPublish byte = 1 // uvarint n, n × (stream, payload): batched deltas
	entryCommit  byte = 2 // stream, payload: a write acknowledged once applied
	entryResync  byte = 3 // stream, snapshot: a published stream's whole state, merged
)

const entryHeader = 1 + 8

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func readBytes(b []byte) (p, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errors.New("replication: truncated entry")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

func encodeCommit(kind byte, inc uint64, stream string, payload []byte) []byte {
	b := make([]byte, 0, entryHeader+len(stream)+len(payload)+10)
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, inc)
	b = appendBytes(b, []byte(stream))
	return appendBytes(b, payload)
}

type record struct {
	stream  string
	payload []byte
}

func encodePublish(inc uint64, recs []record) []byte {
	size := entryHeader + 10
	for _, r := range recs {
		size += len(r.stream) + len(r.payload) + 10
	}
	b := make([]byte, 0, size)
	b = append(b, entryPublish)
	b = binary.BigEndian.AppendUint64(b, inc)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = appendBytes(b, []byte(r.stream))
		b = appendBytes(b, r.payload)
	}
	return b
}

func decodeEntry(b []byte) (kind byte, inc uint64, recs []record, err error) {
	if len(b) < entryHeader {
		return 0, 0, nil, errors.New("replication: short entry")
	}
	kind, inc, rest := b[0], binary.BigEndian.Uint64(b[1:9]), b[9:]
	switch kind {
	case entryCommit, entryResync:
		name, rest, err := readBytes(rest)
		if err != nil {
			return 0, 0, nil, err
		}
		p, _, err := readBytes(rest)
		if err != nil {
			return 0, 0, nil, err
		}
		return kind, inc, []record{{string(name), p}}, nil
	case entryPublish:
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)) {
			return 0, 0, nil, errors.New("replication: bad record count")
		}
		rest = rest[k:]
		recs = make([]record, 0, n)
		for i := uint64(0); i < n; i++ {
			var name, p []byte
			if name, rest, err = readBytes(rest); err != nil {
				return 0, 0, nil, err
			}
			if p, rest, err = readBytes(rest); err != nil {
				return 0, 0, nil, err
			}
			recs = append(recs, record{string(name), p})
		}
		return kind, inc, recs, nil
	}
	return 0, 0, nil, fmt.Errorf("replication: unknown entry kind %d", kind)
}

// fsm is the Raft state machine: it routes entries to streams. It keeps no
// state of its own beyond the applied index and recent Commit results.
type fsm struct {
	incarnation uint64 // entries published by this process are already applied locally

	mu      sync.RWMutex
	streams map[string]Replicated

	applied   atomic.Uint64
	watchMu   sync.Mutex
	watchCh   chan struct{} // closed and replaced on every applied index
	results   map[uint64]error
	resultLog []uint64 // FIFO of result indexes, bounded

	direct     directSeen   // payloads applied from direct batches, not to apply again
	directDups atomic.Int64 // Raft copies of such payloads skipped

	unknown   atomic.Int64 // records of streams not registered here (a witness counts all)
	malformed atomic.Int64
	applyErrs atomic.Int64
	records   atomic.Int64
}

const maxResults = 8192

func newFSM(inc uint64) *fsm {
	return &fsm{
		incarnation: inc,
		streams:     map[string]Replicated{},
		watchCh:     make(chan struct{}),
		results:     map[uint64]error{},
	}
}

func (f *fsm) register(r Replicated) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.streams[r.Name()]; dup {
		return fmt.Errorf("replication: stream %q registered twice", r.Name())
	}
	f.streams[r.Name()] = r
	return nil
}

func (f *fsm) stream(name string) Replicated {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.streams[name]
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	var res error
	if l.Type == raft.LogCommand {
		res = f.applyEntry(l.Index, l.Data)
	}
	f.markApplied(l.Index, l.Type == raft.LogCommand && len(l.Data) > 0 && l.Data[0] == entryCommit, res)
	return res
}

func (f *fsm) applyEntry(index uint64, data []byte) error {
	kind, inc, recs, err := decodeEntry(data)
	if err != nil {
		f.malformed.Add(1)
		return err
	}
	if kind != entryCommit && inc == f.incarnation {
		return nil // published here: the local tables have it already
	}
	if kind == entryResync {
		f.direct.reset() // the stream may be loaded anew: apply what follows in full
	}
	var first error
	for _, r := range recs {
		f.records.Add(1)
		if kind == entryPublish && f.direct.take(directKey(inc, r.stream, r.payload)) {
			f.directDups.Add(1)
			continue
		}
		s := f.stream(r.stream)
		if s == nil {
			f.unknown.Add(1)
			continue
		}
		var err error
		switch ix, ok := s.(IndexedReplicated); {
		case kind == entryResync:
			err = s.Restore(bytes.NewReader(r.payload))
		case ok:
			err = ix.ApplyRemoteAt(index, r.payload)
		default:
			err = s.ApplyRemote(r.payload)
		}
		if err != nil {
			f.applyErrs.Add(1)
			if first == nil {
				first = fmt.Errorf("replication: stream %q at index %d: %w", r.stream, index, err)
			}
		}
	}
	return first
}

func (f *fsm) markApplied(index uint64, keep bool, res error) {
	f.watchMu.Lock()
	if keep {
		f.results[index] = res
		f.resultLog = append(f.resultLog, index)
		if len(f.resultLog) > maxResults {
			delete(f.results, f.resultLog[0])
			f.resultLog = f.resultLog[1:]
		}
	}
	if index > f.applied.Load() {
		f.applied.Store(index)
	}
	close(f.watchCh)
	f.watchCh = make(chan struct{})
	f.watchMu.Unlock()
}

// waitApplied returns once index is applied here, with the result of the
// Commit entry at that index if it is still known.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.watchMu.Lock()
		ch := f.watchCh
		if f.applied.Load() >= index {
			res := f.results[index]
			f.watchMu.Unlock()
			return res
		}
		f.watchMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot implements raft.FSM. Streams write while they keep serving;
// replaying the log after such a snapshot is harmless because every apply
// is idempotent.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := &fsmSnapshot{}
	for _, r := range f.streams {
		s.streams = append(s.streams, r)
	}
	sort.Slice(s.streams, func(i, j int) bool { return s.streams[i].Name() < s.streams[j].Name() })
	return s, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.direct.reset()
	br := bufio.NewReaderSize(rc, 64<<10)
	if err := readSnapshot(br, func(name string, r io.Reader) error {
		s := f.stream(name)
		if s == nil {
			f.unknown.Add(1)
			return nil
		}
		return s.Restore(r)
	}); err != nil {
		return err
	}
	return nil
}

// Snapshot format: magic, then per stream: uvarint name length, name, the
// stream's bytes as chunks (uvarint length, data), a zero-length chunk.
const snapMagic = "APPLSNAP1\n"

type fsmSnapshot struct{ streams []Replicated }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := writeSnapshot(sink, s.streams)
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

func writeSnapshot(w io.Writer, streams []Replicated) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString(snapMagic); err != nil {
		return err
	}
	var hdr []byte
	for _, r := range streams {
		hdr = appendBytes(hdr[:0], []byte(r.Name()))
		if _, err := bw.Write(hdr); err != nil {
			return err
		}
		cw := &chunkWriter{w: bw}
		if err := r.Snapshot(cw); err != nil {
			return fmt.Errorf("replication: snapshot of %q: %w", r.Name(), err)
		}
		if err := cw.end(); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func readSnapshot(br *bufio.Reader, each func(name string, r io.Reader) error) error {
	magic := make([]byte, len(snapMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapMagic {
		return errors.New("replication: not an appl snapshot")
	}
	for {
		n, err := binary.ReadUvarint(br)
		if err == io.EOF {
			return nil
		}
		if err != nil || n > 4096 {
			return errors.New("replication: bad snapshot stream header")
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return err
		}
		cr := &chunkReader{r: br}
		if err := each(string(name), cr); err != nil {
			return fmt.Errorf("replication: restore of %q: %w", name, err)
		}
		if err := cr.drain(); err != nil {
			return err
		}
	}
}

type chunkWriter struct {
	w   *bufio.Writer
	hdr [binary.MaxVarintLen64]byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	k := binary.PutUvarint(c.hdr[:], uint64(len(p)))
	if _, err := c.w.Write(c.hdr[:k]); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func (c *chunkWriter) end() error { return c.w.WriteByte(0) }

type chunkReader struct {
	r    *bufio.Reader
	left uint64
	done bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		n, err := binary.ReadUvarint(c.r)
		if err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		if n == 0 {
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if uint64(len(p)) > c.left {
		p = p[:c.left]
	}
	k, err := c.r.Read(p)
	c.left -= uint64(k)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

func (c *chunkReader) drain() error {
	_, err := io.Copy(io.Discard, c)
	return err
}

// applyDirect applies a batch another box sent directly (direct.go) and
// returns the records applied. Only published batches are taken: Commit
// and resync entries exist only through Raft.
func (f *fsm) applyDirect(body []byte) (int, error) {
	kind, inc, recs, err := decodeEntry(body)
	if err != nil {
		f.malformed.Add(1)
		return 0, err
	}
	if kind != entryPublish {
		f.malformed.Add(1)
		return 0, errNotPublish
	}
	if inc == f.incarnation {
		return 0, nil
	}
	applied := 0
	for _, r := range recs {
		s := f.stream(r.stream)
		if s == nil {
			f.unknown.Add(1)
			continue
		}
		if err := s.ApplyRemote(r.payload); err != nil {
			f.applyErrs.Add(1)
			continue
		}
		f.direct.add(directKey(inc, r.stream, r.payload))
		applied++
	}
	return applied, nil
}
