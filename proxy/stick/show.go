package stick

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Cmp is a filter operator of show/clear table.
type Cmp uint8

// Operators, as in HAProxy's ACLs.
const (
	CmpEq Cmp = iota + 1
	CmpNe
	CmpLe
	CmpGe
	CmpLt
	CmpGt
)

var cmpNames = map[string]Cmp{"eq": CmpEq, "ne": CmpNe, "le": CmpLe, "ge": CmpGe, "lt": CmpLt, "gt": CmpGt}

func (c Cmp) match(v, ref int64) bool {
	switch c {
	case CmpEq:
		return v == ref
	case CmpNe:
		return v != ref
	case CmpLe:
		return v <= ref
	case CmpGe:
		return v >= ref
	case CmpLt:
		return v < ref
	case CmpGt:
		return v > ref
	}
	return false
}

// DataFilter keeps entries whose data Type compares with Value by Op.
type DataFilter struct {
	Type  DataType
	Op    Cmp
	Value int64
}

// Filter selects entries for show/clear table: all data filters must
// match; with HasKey only the entry of Key.
type Filter struct {
	Data   []DataFilter
	HasKey bool
	Key    Key
}

// ParseFilter parses the words after the table name of `show table NAME`
// or `clear table NAME`: `data.TYPE OP VALUE ...` or `key KEY`. Error texts
// are HAProxy's.
func (t *Table) ParseFilter(args []string) (Filter, error) {
	var f Filter
	for i := 0; i < len(args); {
		w := args[i]
		switch {
		case w == "key" && len(f.Data) == 0:
			if f.HasKey {
				return f, errors.New("Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>")
			}
			if i+1 >= len(args) || args[i+1] == "" {
				return f, errors.New("Key value expected")
			}
			k, err := t.ParseKey(args[i+1])
			if err != nil {
				return f, err
			}
			f.HasKey, f.Key = true, k
			i += 2
		case strings.HasPrefix(w, "data."):
			if f.HasKey {
				return f, errors.New("Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>")
			}
			n := len(f.Data) + 1
			dt, ok := ParseDataType(w[5:])
			if !ok {
				return f, fmt.Errorf("Filter entry #%d: Unknown data type", n)
			}
			if !t.Stores(dt) || dt == DataServerKey {
				return f, fmt.Errorf("Filter entry #%d: Data type not stored in this table", n)
			}
			var op Cmp
			if i+1 < len(args) {
				op = cmpNames[args[i+1]]
			}
			if op == 0 {
				return f, fmt.Errorf("Filter entry #%d: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"", n)
			}
			var v int64
			var err error
			if i+2 < len(args) {
				v, err = strconv.ParseInt(args[i+2], 10, 64)
			}
			if i+2 >= len(args) || err != nil {
				return f, fmt.Errorf("Filter entry #%d: Require a valid integer value to compare against", n)
			}
			f.Data = append(f.Data, DataFilter{Type: dt, Op: op, Value: v})
			i += 3
		case len(f.Data) > 0:
			return f, fmt.Errorf("Filter entry #%d: Unknown data type", len(f.Data)+1)
		default:
			return f, errors.New("Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>")
		}
	}
	return f, nil
}

// matchLocked applies the data filters to e (shard locked).
func (t *Table) matchLocked(e *Entry, f *Filter, ms int64) bool {
	for _, df := range f.Data {
		if !df.Op.match(int64(t.getLocked(e, df.Type, ms)), df.Value) {
			return false
		}
	}
	return true
}

// Value is one stored data item of an EntryView.
type Value struct {
	Type   DataType
	Period int64  // rates: period in ms
	Value  uint64 // counters, current rate
	Str    string // server_key
}

// EntryView is a copy of an entry for display.
type EntryView struct {
	ID      uintptr // identity for display (show table's 0x... address)
	Key     Key
	KeyText string
	Use     int
	ExpMs   int64 // ms until expiry, 0 for never or due
	Data    []Value
}

// Dump returns copies of the live entries selected by f, ordered by key.
func (t *Table) Dump(f Filter) []EntryView {
	var out []EntryView
	collect := func(s *shard, e *Entry, ms int64) {
		if t.expired(e, ms) || !t.matchLocked(e, &f, ms) {
			return
		}
		var v EntryView
		t.viewLocked(e, ms, &v)
		out = append(out, v)
	}
	if f.HasKey {
		s := t.shardFor(&f.Key)
		ms, _ := t.clock()
		s.mu.Lock()
		if e := s.get(&f.Key); e != nil {
			collect(s, e, ms)
		}
		s.mu.Unlock()
		return out
	}
	for i := range t.shards {
		s := &t.shards[i]
		ms, _ := t.clock()
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; e = e.next {
			collect(s, e, ms)
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b EntryView) int { return compareKeys(&a.Key, &b.Key) })
	return out
}

// viewLocked fills v from e (shard locked), reusing v.Data.
func (t *Table) viewLocked(e *Entry, ms int64, v *EntryView) {
	*v = EntryView{ID: entryID(e), Key: e.key, KeyText: t.FormatKey(e.key), Use: int(e.ref), Data: v.Data[:0]}
	if e.exp != 0 && e.exp > ms {
		v.ExpMs = e.exp - ms
	}
	for dt := DataType(0); dt < numDataTypes; dt++ {
		if t.off[dt] < 0 {
			continue
		}
		x := Value{Type: dt, Period: t.period[dt]}
		if dt == DataServerKey {
			x.Str = e.srvKey
		} else {
			x.Value = t.getLocked(e, dt, ms)
		}
		v.Data = append(v.Data, x)
	}
}

// Header is the table's line of `show table`:
// "# table: NAME, type: ip, size:N, used:M".
func (t *Table) Header() string {
	return fmt.Sprintf("# table: %s, type: %s, size:%d, used:%d", t.name, t.def.Type, t.def.Size, t.Len())
}

// Show writes `show table NAME [filter]` in HAProxy's format: the header,
// then one line per entry in key order. The runtime API adds the empty line
// that ends every CLI answer. Entries are formatted one at a time under
// their shard's lock, so a large table is not copied whole.
func (t *Table) Show(w io.Writer, f Filter) error {
	hdr := t.Header() // "used" counts before filtering, as in HAProxy
	b := make([]byte, 0, 32<<10)
	b = append(b, hdr...)
	b = append(b, '\n')
	type ref struct {
		key Key
		e   *Entry
	}
	var refs []ref
	pick := func(s *shard, e *Entry, ms int64) {
		if !t.expired(e, ms) && t.matchLocked(e, &f, ms) {
			refs = append(refs, ref{e.key, e})
		}
	}
	if f.HasKey {
		s := t.shardFor(&f.Key)
		ms, _ := t.clock()
		s.mu.Lock()
		if e := s.get(&f.Key); e != nil {
			pick(s, e, ms)
		}
		s.mu.Unlock()
	} else {
		for i := range t.shards {
			s := &t.shards[i]
			ms, _ := t.clock()
			s.mu.Lock()
			for e := s.lru.next; e != &s.lru; e = e.next {
				pick(s, e, ms)
			}
			s.mu.Unlock()
		}
		slices.SortFunc(refs, func(a, b ref) int { return compareKeys(&a.key, &b.key) })
	}
	var v EntryView
	for _, r := range refs {
		s := r.e.s
		ms, _ := t.clock()
		s.mu.Lock()
		ok := !r.e.dead
		if ok {
			t.viewLocked(r.e, ms, &v)
		}
		s.mu.Unlock()
		if !ok {
			continue
		}
		b = appendEntryLine(b, &v)
		if len(b) > 32<<10 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return err
}

func appendEntryLine(b []byte, v *EntryView) []byte {
	b = append(b, "0x"...)
	b = strconv.AppendUint(b, uint64(v.ID), 16)
	b = append(b, ": key="...)
	b = append(b, v.KeyText...)
	b = append(b, " use="...)
	b = strconv.AppendInt(b, int64(v.Use), 10)
	b = append(b, " exp="...)
	b = strconv.AppendInt(b, v.ExpMs, 10)
	for _, x := range v.Data {
		b = append(b, ' ')
		b = append(b, x.Type.String()...)
		if x.Type.IsRate() {
			b = append(b, '(')
			b = strconv.AppendInt(b, x.Period, 10)
			b = append(b, ')')
		}
		b = append(b, '=')
		switch x.Type {
		case DataServerKey:
			if x.Str == "" {
				b = append(b, '-')
			} else {
				b = appendText(b, x.Str)
			}
		case DataServerID:
			b = strconv.AppendInt(b, int64(int32(uint32(x.Value))), 10)
		default:
			b = strconv.AppendUint(b, x.Value, 10)
		}
	}
	return append(b, '\n')
}

type setItem struct {
	dt  DataType
	v   uint64
	str string
}

// ExecSet runs `set table NAME key K [data.TYPE V]*` given the words after
// NAME: it creates the entry if needed and sets each value. server_key
// takes a server name (an appl extension). Error texts are HAProxy's.
func (t *Table) ExecSet(args []string) error {
	if len(args) == 0 {
		return errors.New("Required arguments: <table> key <key> [data.<store_data_type> <value>]*")
	}
	if args[0] != "key" {
		return errors.New("\"data.<type>\" followed by a value expected")
	}
	if len(args) < 2 || args[1] == "" {
		return errors.New("Key value expected")
	}
	k, err := t.ParseKey(args[1])
	if err != nil {
		return err
	}
	var items []setItem
	for i := 2; i < len(args); i += 2 {
		if !strings.HasPrefix(args[i], "data.") {
			return errors.New("\"data.<type>\" followed by a value expected")
		}
		dt, ok := ParseDataType(args[i][5:])
		if !ok {
			return errors.New("Unknown data type")
		}
		if !t.Stores(dt) {
			return errors.New("Data type not stored in this table")
		}
		if i+1 >= len(args) {
			return errors.New("Require a valid integer value to store")
		}
		it := setItem{dt: dt}
		if dt == DataServerKey {
			it.str = args[i+1]
		} else {
			v, err := strconv.ParseInt(args[i+1], 10, 64)
			if err != nil {
				return errors.New("Require a valid integer value to store")
			}
			it.v = uint64(v)
		}
		items = append(items, it)
	}
	e, err := t.GetOrCreate(k)
	if err != nil {
		return errors.New("Unable to allocate a new entry")
	}
	for _, it := range items {
		if it.dt == DataServerKey {
			e.setServerKey(it.str)
		} else {
			e.Set(it.dt, it.v)
		}
	}
	return nil
}

func (e *Entry) setServerKey(name string) {
	s := e.s
	ms, ns := s.t.clock()
	s.mu.Lock()
	if !e.dead {
		e.srvKey = name
		s.touched(e, ms, ns)
	}
	s.mu.Unlock()
}

// ExecClear runs `clear table NAME [data.TYPE OP V]* | [key K]` given the
// words after NAME and returns the number of entries removed. Entries in
// use are kept, as in HAProxy.
func (t *Table) ExecClear(args []string) (int, error) {
	f, err := t.ParseFilter(args)
	if err != nil {
		return 0, err
	}
	switch {
	case f.HasKey:
		if t.Delete(f.Key) {
			return 1, nil
		}
		return 0, nil
	case len(f.Data) == 0:
		return t.Clear(), nil
	}
	return t.DeleteMatching(f), nil
}

// DeleteMatching removes the entries not in use that match f's data
// filters and returns how many.
func (t *Table) DeleteMatching(f Filter) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		ms, ns := t.clock()
		s.mu.Lock()
		for e := s.lru.next; e != &s.lru; {
			next := e.next
			if e.ref == 0 && !t.expired(e, ms) && t.matchLocked(e, &f, ms) {
				s.remove(e, true, ns)
				n++
			}
			e = next
		}
		s.mu.Unlock()
	}
	return n
}
