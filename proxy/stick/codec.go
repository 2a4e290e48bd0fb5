package stick

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Encodings (all integers are varints):
//
//	deltas:   "APD" version(1) count { nameLen+1 name | 0 (same table as before) ; body }*
//	snapshot: "APS" version(1) name keyType keyLen { bodyLen body }* 0 count
//	body:     op key updatedAt expiresAt nfields { type value... }*
//	key:      0 len bytes (string/binary) | 4 b[4] (ip, integer) | 16 b[16] (ipv6)
//	field:    counter: value; rate: tick value prev; server_key: len bytes
const (
	deltaMagic    = "APD"
	snapshotMagic = "APS"
	codecVersion  = 1
)

var errCorrupt = errors.New("stick: corrupt encoding")

func appendKey(b []byte, k *Key) []byte {
	if k.str != "" {
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(k.str)))
		return append(b, k.str...)
	}
	if !k.is4() {
		b = append(b, 16)
		b = binary.BigEndian.AppendUint64(b, k.hi)
		return binary.BigEndian.AppendUint64(b, k.lo)
	}
	b = append(b, 4)
	return binary.BigEndian.AppendUint32(b, k.u32())
}

func appendDeltaBody(b []byte, d *Delta) []byte {
	b = append(b, byte(d.Op))
	b = appendKey(b, &d.Key)
	b = binary.AppendVarint(b, d.UpdatedAt)
	b = binary.AppendVarint(b, d.ExpiresAt)
	b = binary.AppendUvarint(b, uint64(len(d.Fields)))
	for _, f := range d.Fields {
		b = append(b, byte(f.Type))
		if f.Type >= numDataTypes {
			continue
		}
		switch dataInfos[f.Type].kind {
		case kindCounter:
			b = binary.AppendUvarint(b, f.Value)
		case kindRate:
			b = binary.AppendVarint(b, f.Tick)
			b = binary.AppendUvarint(b, f.Value)
			b = binary.AppendUvarint(b, f.Prev)
		case kindString:
			b = binary.AppendUvarint(b, uint64(len(f.Str)))
			b = append(b, f.Str...)
		}
	}
	return b
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
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

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) key() Key {
	var k Key
	switch d.byte() {
	case 0:
		n := d.uvarint()
		k.str = string(d.bytes(n))
	case 4:
		if b := d.bytes(4); b != nil {
			k = keyOf4(binary.BigEndian.Uint32(b))
		}
	case 16:
		if b := d.bytes(16); b != nil {
			k = keyOf16([16]byte(b))
		}
	default:
		d.err = errCorrupt
	}
	return k
}

func (d *decoder) body(out *Delta) {
	out.Op = Op(d.byte())
	if out.Op < OpSet || out.Op > OpClear {
		d.err = errCorrupt
		return
	}
	out.Key = d.key()
	out.UpdatedAt = d.varint()
	out.ExpiresAt = d.varint()
	n := d.uvarint()
	if n > uint64(numDataTypes) {
		d.err = errCorrupt
		return
	}
	if n > 0 {
		out.Fields = make([]Field, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		f := Field{Type: DataType(d.byte())}
		if f.Type >= numDataTypes {
			d.err = errCorrupt
			return
		}
		switch dataInfos[f.Type].kind {
		case kindCounter:
			f.Value = d.uvarint()
		case kindRate:
			f.Tick = d.varint()
			f.Value = d.uvarint()
			f.Prev = d.uvarint()
		case kindString:
			f.Str = string(d.bytes(d.uvarint()))
		}
		out.Fields = append(out.Fields, f)
	}
}

// MarshalDeltas encodes a batch compactly (versioned), e.g. for a Raft log
// entry.
func MarshalDeltas(batch []Delta) []byte {
	b := make([]byte, 0, 16+len(batch)*48)
	b = append(b, deltaMagic...)
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(len(batch)))
	prev := ""
	for i := range batch {
		d := &batch[i]
		if i > 0 && d.Table == prev {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(d.Table))+1)
			b = append(b, d.Table...)
			prev = d.Table
		}
		b = appendDeltaBody(b, d)
	}
	return b
}

// UnmarshalDeltas decodes what MarshalDeltas encoded.
func UnmarshalDeltas(b []byte) ([]Delta, error) {
	if len(b) < 4 || string(b[:3]) != deltaMagic {
		return nil, errors.New("stick: not a delta batch")
	}
	if b[3] != codecVersion {
		return nil, fmt.Errorf("stick: delta batch version %d not supported (want %d)", b[3], codecVersion)
	}
	d := decoder{b: b[4:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) { // every delta takes at least one byte
		return nil, errCorrupt
	}
	out := make([]Delta, 0, n)
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		var x Delta
		l := d.uvarint()
		if l == 0 {
			if i == 0 {
				d.err = errCorrupt
				break
			}
			x.Table = prev
		} else {
			x.Table = string(d.bytes(l - 1))
			prev = x.Table
		}
		d.body(&x)
		out = append(out, x)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, d.err
	}
	return out, nil
}

// Snapshot writes every live entry of the table to w (versioned binary).
// The table keeps serving: shards are copied one at a time, so the result
// is consistent per entry, not a single instant of the whole table.
func (t *Table) Snapshot(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	hdr := append([]byte(snapshotMagic), codecVersion)
	hdr = binary.AppendUvarint(hdr, uint64(len(t.name)))
	hdr = append(hdr, t.name...)
	hdr = append(hdr, byte(t.def.Type))
	hdr = binary.AppendUvarint(hdr, uint64(t.def.KeyLen))
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	var buf, body []byte
	count := uint64(0)
	for i := range t.shards {
		s := &t.shards[i]
		buf = buf[:0]
		ms, _ := t.clock()
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; e = e.next {
			if t.expired(e, ms) {
				continue
			}
			d := t.deltaLocked(e)
			body = appendDeltaBody(body[:0], &d)
			buf = binary.AppendUvarint(buf, uint64(len(body)))
			buf = append(buf, body...)
			count++
		}
		s.mu.Unlock()
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	tail := binary.AppendUvarint([]byte{0}, count)
	if _, err := bw.Write(tail); err != nil {
		return err
	}
	return bw.Flush()
}

// Restore merges a snapshot into the table (last writer wins per entry,
// like Apply; Clear first for a replacement). The snapshot's key type must
// match the table's. Restored entries are not emitted to the sink.
func (t *Table) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[:3]) != snapshotMagic {
		return errors.New("stick: not a table snapshot")
	}
	if hdr[3] != codecVersion {
		return fmt.Errorf("stick: snapshot version %d not supported (want %d)", hdr[3], codecVersion)
	}
	nl, err := binary.ReadUvarint(br)
	if err != nil || nl > 1<<16 {
		return errCorrupt
	}
	name := make([]byte, nl)
	if _, err := io.ReadFull(br, name); err != nil {
		return errCorrupt
	}
	kt, err := br.ReadByte()
	if err != nil {
		return errCorrupt
	}
	kl, err := binary.ReadUvarint(br)
	if err != nil {
		return errCorrupt
	}
	if KeyType(kt) != t.def.Type || (t.def.Type == TypeString || t.def.Type == TypeBinary) && int(kl) != t.def.KeyLen {
		return fmt.Errorf("stick: snapshot of table %q (type %s len %d) does not fit table %q (type %s len %d)",
			name, KeyType(kt), kl, t.name, t.def.Type, t.def.KeyLen)
	}
	var st ApplyStats
	var body []byte
	count := uint64(0)
	for {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return errCorrupt
		}
		if n == 0 {
			break
		}
		if n > 1<<20 {
			return errCorrupt
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return errCorrupt
		}
		d := decoder{b: body}
		x := Delta{Table: t.name}
		d.body(&x)
		if d.err != nil || len(d.b) != 0 || x.Op != OpSet {
			return errCorrupt
		}
		if !t.validKey(&x.Key) {
			return fmt.Errorf("stick: snapshot entry %d: key does not fit a %s table", count, t.def.Type)
		}
		t.applyOne(&x, &st)
		count++
	}
	want, err := binary.ReadUvarint(br)
	if err != nil || want != count {
		return fmt.Errorf("stick: snapshot truncated: %d entries read, trailer says %d", count, want)
	}
	return nil
}
