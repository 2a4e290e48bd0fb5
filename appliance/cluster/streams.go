package cluster

import (
	"errors"
	"fmt"
	"io"
	"time"

	"appl/proxy/maps"
	"appl/proxy/stick"
)

// StreamMaps is the name of the map store's stream.
const StreamMaps = "maps"

// StickStreamName is the stream of one stick table: tables are named alike on every
// box (one configuration file), never numbered.
func StickStreamName(table string) string { return "stick/" + table }

// StickStream replicates one stick table. Table is looked up on every call because a
// reload may build a new table object under the same name.
type StickStream struct {
	Table string
	Find  func(name string) *stick.Table
}

func (s StickStream) Name() string { return StickStreamName(s.Table) }

func (s StickStream) table() *stick.Table {
	if s.Find == nil {
		return nil
	}
	return s.Find(s.Table)
}

// ApplyRemote merges a batch of another box's deltas (last writer wins, idempotent).
func (s StickStream) ApplyRemote(p []byte) error {
	ds, err := stick.UnmarshalDeltas(p)
	if err != nil {
		return err
	}
	if t := s.table(); t != nil {
		t.Apply(ds)
	}
	return nil
}

func (s StickStream) Snapshot(w io.Writer) error {
	if t := s.table(); t != nil {
		return t.Snapshot(w)
	}
	return nil
}

func (s StickStream) Restore(r io.Reader) error {
	t := s.table()
	if t == nil {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	return t.Restore(r)
}

// Publisher is replication.Node's Publish: it never blocks.
type Publisher func(stream string, payload []byte)

// StickSink feeds a table's local changes to replication.
type StickSink struct {
	Stream  string
	Publish func() Publisher // nil Publisher while replication is not running
}

func (s StickSink) Deltas(b []stick.Delta) {
	if s.Publish == nil {
		return
	}
	if p := s.Publish(); p != nil {
		p(s.Stream, stick.MarshalDeltas(b))
	}
}

// Stick batching: a table flush every 10 ms or 256 changes, whichever first. The
// flush interval bounds what a standby can miss when the master dies: replication
// sends each flush to the other boxes at once (its direct path, applied in memory
// on arrival) and gives Raft the same batches grouped over RaftBatchEvery, the
// durable, ordered copy (each Raft entry is a bolt commit with two fsyncs on every
// box and a chain of hand-offs: at one per flush that was most of replication's
// cost per proxied connection). Above 25,600 changes/s the count triggers first.
const (
	StickBatch      = 256
	StickFlushEvery = 10 * time.Millisecond
	RaftBatchEvery  = 100 * time.Millisecond
	// RaftCommitTimeout paces the Raft leader's empty AppendEntries (see
	// appliance's startReplication).
	RaftCommitTimeout = 20 * time.Millisecond
)

// AttachStick makes t publish its changes to the stream of its name.
func AttachStick(t *stick.Table, publish func() Publisher) {
	t.SetSink(StickSink{Stream: StickStreamName(t.Name()), Publish: publish}, StickBatch, StickFlushEvery)
}

// mapIDBase keeps ids taken from the Raft index above any id a loaded file uses.
const mapIDBase = 1 << 40

// maxDeltasPerEntry bounds a committed batch so index-derived ids never collide.
const maxDeltasPerEntry = 16

// MapsStream replicates the map store. Adds are committed with ID 0 and get their id
// when applied, from the Raft index (the same on every box); set and del given by key
// (ID 0) resolve the key when applied, so they act on what is there at that point of
// the log on every box alike.
type MapsStream struct{ Store *maps.Store }

func (m MapsStream) Name() string               { return StreamMaps }
func (m MapsStream) ApplyRemote(p []byte) error { return m.ApplyRemoteAt(0, p) }
func (m MapsStream) Snapshot(w io.Writer) error { return m.Store.Snapshot(w) }
func (m MapsStream) Restore(r io.Reader) error  { return m.Store.Restore(r) }

// ErrNotFound is what a set or del of an absent key or id answers.
var ErrNotFound = maps.ErrNotFound

func (m MapsStream) ApplyRemoteAt(index uint64, p []byte) error {
	ds, err := maps.UnmarshalDeltas(p)
	if err != nil {
		return err
	}
	if len(ds) > maxDeltasPerEntry {
		return fmt.Errorf("maps: %d edits in one entry (at most %d)", len(ds), maxDeltasPerEntry)
	}
	var out []maps.Delta
	for i, d := range ds {
		r := m.Store.Ref(d.Map)
		switch {
		case d.Op == maps.OpAdd && d.ID == 0:
			if index == 0 {
				return errors.New("maps: add without id outside the log")
			}
			d.ID = mapIDBase + index*maxDeltasPerEntry + uint64(i)
			out = append(out, d)
		case (d.Op == maps.OpSet || d.Op == maps.OpDel) && d.ID == 0:
			if r == nil {
				return ErrNotFound
			}
			es := r.FindKey(d.Key)
			if len(es) == 0 {
				return ErrNotFound
			}
			for _, e := range es {
				x := d
				x.ID = e.ID
				out = append(out, x)
			}
		case (d.Op == maps.OpSet || d.Op == maps.OpDel) && r != nil:
			if _, ok := r.Get(d.ID); !ok {
				return ErrNotFound
			}
			out = append(out, d)
		default:
			out = append(out, d)
		}
	}
	if st := m.Store.Apply(out); st.Skipped > 0 {
		return fmt.Errorf("%d map edits refused", st.Skipped)
	}
	return nil
}
