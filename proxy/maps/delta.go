package maps

// Op says what a Delta does.
type Op uint8

// Delta operations.
const (
	OpAdd     Op = iota + 1 // append entry ID with Key, Value (no-op if the id exists)
	OpSet                   // set the Value of entry ID
	OpDel                   // delete entry ID (no-op if absent)
	OpClear                 // delete every entry
	OpReplace               // the whole content is Entries (coalesced edits, snapshots)
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpSet:
		return "set"
	case OpDel:
		return "del"
	case OpClear:
		return "clear"
	case OpReplace:
		return "replace"
	}
	return "?"
}

// Delta is one edit of one map or pattern file. Deltas of one Ref are emitted in edit
// order and name entries by id, so replaying them gives the same entries, ids and order.
type Delta struct {
	Map     string // Ref name
	Op      Op
	IsMap   bool // OpReplace: whether the Ref has values (to create it on a replica)
	ID      uint64
	Key     string // OpAdd (and informative for OpSet/OpDel)
	Value   string
	Entries []Entry // OpReplace
}

// ApplyStats says what Apply did.
type ApplyStats struct {
	Applied int // deltas that changed the store
	Stale   int // already applied (duplicate add, delete of an absent id)
	Skipped int // invalid for the Ref's uses (e.g. a non-IP key for map_ip)
}

// Apply replays deltas from a peer. Unknown Refs are created. Applied deltas are not
// emitted to this store's sink (no echo between peers).
func (s *Store) Apply(batch []Delta) ApplyStats {
	var st ApplyStats
	for i := range batch {
		d := &batch[i]
		r := s.Create(d.Map, d.IsMap)
		r.apply(d, &st)
	}
	return st
}

func (r *Ref) apply(d *Delta, st *ApplyStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch d.Op {
	case OpAdd:
		if r.byID[d.ID] != nil || d.ID == 0 {
			st.Stale++
			return
		}
		v := d.Value
		if !r.isMap {
			v = ""
		}
		if err := r.addLocked(&entry{Entry: Entry{ID: d.ID, Key: d.Key, Value: v}}, true); err != nil {
			st.Skipped++
			return
		}
	case OpSet:
		e := r.byID[d.ID]
		if e == nil {
			st.Stale++
			return
		}
		e.Value = d.Value
	case OpDel:
		e := r.byID[d.ID]
		if e == nil {
			st.Stale++
			return
		}
		r.delLocked(e)
	case OpClear:
		r.clearLocked()
	case OpReplace:
		if err := r.replaceLocked(d.Entries); err != nil {
			st.Skipped++
			return
		}
	default:
		st.Skipped++
		return
	}
	st.Applied++
}
