package maps

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	deltaMagic    = "APD" // appl map deltas
	snapshotMagic = "APS" // appl map snapshot
	codecVersion  = 1
	maxString     = 1 << 20
)

var errCorrupt = errors.New("maps: corrupt delta batch or snapshot")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendDelta(b []byte, d *Delta) []byte {
	b = appendString(b, d.Map)
	flags := byte(d.Op)
	if d.IsMap {
		flags |= 0x80
	}
	b = append(b, flags)
	switch d.Op {
	case OpAdd, OpSet, OpDel:
		b = binary.AppendUvarint(b, d.ID)
		b = appendString(b, d.Key)
		b = appendString(b, d.Value)
	case OpReplace:
		b = binary.AppendUvarint(b, uint64(len(d.Entries)))
		for _, e := range d.Entries {
			b = binary.AppendUvarint(b, e.ID)
			b = appendString(b, e.Key)
			b = appendString(b, e.Value)
		}
	}
	return b
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) || n > maxString {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) delta() Delta {
	var x Delta
	x.Map = d.string()
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return x
	}
	flags := d.b[0]
	d.b = d.b[1:]
	x.Op, x.IsMap = Op(flags&0x7f), flags&0x80 != 0
	switch x.Op {
	case OpAdd, OpSet, OpDel:
		x.ID = d.uvarint()
		x.Key = d.string()
		x.Value = d.string()
	case OpClear:
	case OpReplace:
		n := d.uvarint()
		if n > uint64(len(d.b)) { // each entry takes at least 3 bytes
			d.err = errCorrupt
			return x
		}
		x.Entries = make([]Entry, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			e := Entry{ID: d.uvarint()}
			e.Key = d.string()
			e.Value = d.string()
			x.Entries = append(x.Entries, e)
		}
	default:
		d.err = errCorrupt
	}
	return x
}

// MarshalDeltas encodes a batch compactly (versioned), e.g. for a Raft log entry.
func MarshalDeltas(batch []Delta) []byte {
	b := append([]byte(deltaMagic), codecVersion)
	b = binary.AppendUvarint(b, uint64(len(batch)))
	for i := range batch {
		b = appendDelta(b, &batch[i])
	}
	return b
}

// UnmarshalDeltas decodes what MarshalDeltas encoded.
func UnmarshalDeltas(b []byte) ([]Delta, error) {
	if len(b) < 4 || string(b[:3]) != deltaMagic {
		return nil, errors.New("maps: not a delta batch")
	}
	if b[3] != codecVersion {
		return nil, fmt.Errorf("maps: delta batch version %d not supported (want %d)", b[3], codecVersion)
	}
	d := decoder{b: b[4:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errCorrupt
	}
	out := make([]Delta, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		out = append(out, d.delta())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// Snapshot writes every Ref of the store (name, kind of file, entries with their ids)
// to w. Each Ref is copied under its read lock, so the result is consistent per Ref.
func (s *Store) Snapshot(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.Write([]byte{snapshotMagic[0], snapshotMagic[1], snapshotMagic[2], codecVersion}); err != nil {
		return err
	}
	var buf []byte
	for _, r := range s.all() {
		d := Delta{Map: r.name, Op: OpReplace, IsMap: r.isMap, Entries: r.Entries()}
		body := appendDelta(buf[:0], &d)
		var l [binary.MaxVarintLen64]byte
		if _, err := bw.Write(l[:binary.PutUvarint(l[:], uint64(len(body)))]); err != nil {
			return err
		}
		if _, err := bw.Write(body); err != nil {
			return err
		}
		buf = body
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	return bw.Flush()
}

// Restore replaces the content of every Ref named in the snapshot (creating missing
// ones); Refs the snapshot does not name are left alone. Nothing is emitted to the sink.
func (s *Store) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[:3]) != snapshotMagic {
		return errors.New("maps: not a map snapshot")
	}
	if hdr[3] != codecVersion {
		return fmt.Errorf("maps: snapshot version %d not supported (want %d)", hdr[3], codecVersion)
	}
	var batch []Delta
	for {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return errCorrupt
		}
		if n == 0 {
			break
		}
		if n > 1<<30 {
			return errCorrupt
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return errCorrupt
		}
		d := decoder{b: body}
		x := d.delta()
		if d.err != nil || len(d.b) != 0 || x.Op != OpReplace {
			return errCorrupt
		}
		batch = append(batch, x)
	}
	st := s.Apply(batch)
	if st.Skipped > 0 {
		return fmt.Errorf("maps: %d maps of the snapshot do not fit how they are used here", st.Skipped)
	}
	return nil
}
