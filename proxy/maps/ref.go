package maps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Ref is the content of one map or pattern file (or of the inline values of one ACL):
// ordered entries and the indexes built over them. All methods are safe for
// concurrent use; lookups go through an Index.
type Ref struct {
	name  string
	uid   int
	isMap bool
	store *Store // nil for private refs: edits are not emitted

	mu      rwShards
	entries []*entry // in id order
	byID    map[uint64]*entry
	next    uint64
	idx     []*Index
	uses    []string
	file    string // path it was loaded from
}

// NewRef returns a Ref that belongs to no Store (e.g. an ACL's inline values).
func NewRef(name string, isMap bool) *Ref {
	return &Ref{name: name, isMap: isMap, byID: map[uint64]*entry{}, next: 1}
}

// Name is the Ref's name: the file path as written in the configuration.
func (r *Ref) Name() string { return r.name }

// UID is the Ref's number in its Store (`show map` prints it; commands accept #UID).
func (r *Ref) UID() int { return r.uid }

// IsMap says whether entries have values (a map) or not (ACL patterns).
func (r *Ref) IsMap() bool { return r.isMap }

// NoteUse records where the Ref is used, for `show map` / `show acl` descriptions:
// what is "map" or "acl", file and line locate the configuration line.
func (r *Ref) NoteUse(what, file string, line int) {
	u := fmt.Sprintf("%s at file '%s' line %d", what, file, line)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.uses {
		if x == u {
			return
		}
	}
	r.uses = append(r.uses, u)
}

// Uses returns what NoteUse recorded.
func (r *Ref) Uses() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.uses...)
}

// Len returns the number of entries.
func (r *Ref) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.entries)
}

// Entries returns a copy of the entries in order.
func (r *Ref) Entries() []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Entry, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.Entry
	}
	return out
}

// Kinds returns the match methods the Ref is indexed for (how it is used).
func (r *Ref) Kinds() []Kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Kind
	for _, x := range r.idx {
		out = append(out, x.kind)
	}
	return out
}

// Indexes returns the indexes built over the Ref.
func (r *Ref) Indexes() []*Index {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Index(nil), r.idx...)
}

// Index returns the index for a match method, building it on first use. It fails when
// an entry is not a valid pattern for that method (the error names file:line).
func (r *Ref) Index(k Kind, icase bool) (*Index, error) {
	if k == Int || k == IP || k == Len {
		icase = false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.idx {
		if x.kind == k && x.icase == icase {
			return x, nil
		}
	}
	x := newIndex(r, k, icase)
	for _, e := range r.entries {
		p, err := x.prepare(e)
		if err != nil {
			return nil, r.posErr(e, err)
		}
		x.insert(p)
	}
	r.idx = append(r.idx, x)
	return x, nil
}

func (r *Ref) posErr(e *entry, err error) error {
	if e.line > 0 {
		return fmt.Errorf("%s:%d: %v", r.file, e.line, err)
	}
	return fmt.Errorf("%s: entry %s: %v", r.name, e.RefString(), err)
}

// ErrNotFound is returned by edits naming a key or id that is not there.
var ErrNotFound = errors.New("entry not found")

// Add appends an entry (`add map` / `add acl`). The key must be valid for every way
// the Ref is used (e.g. an IP for map_ip).
func (r *Ref) Add(key, value string) (Entry, error) {
	if !r.isMap {
		value = ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := &entry{Entry: Entry{ID: r.next, Key: key, Value: value}}
	if err := r.addLocked(e, false); err != nil {
		return Entry{}, err
	}
	r.emit(Delta{Op: OpAdd, ID: e.ID, Key: key, Value: value})
	return e.Entry, nil
}

func (r *Ref) addLocked(e *entry, sorted bool) error {
	if strings.ContainsAny(e.Key, "\n\r") || strings.ContainsAny(e.Value, "\n\r") {
		return errors.New("keys and values cannot contain line breaks")
	}
	ps := make([]pat, len(r.idx))
	for i, x := range r.idx {
		p, err := x.prepare(e)
		if err != nil {
			return fmt.Errorf("%v (the %s is used with -m %s)", err, r.what(), x.kind)
		}
		ps[i] = p
	}
	if e.ID >= r.next {
		r.next = e.ID + 1
	}
	r.byID[e.ID] = e
	if sorted && len(r.entries) > 0 && r.entries[len(r.entries)-1].ID > e.ID {
		i := sort.Search(len(r.entries), func(i int) bool { return r.entries[i].ID > e.ID })
		r.entries = append(r.entries, nil)
		copy(r.entries[i+1:], r.entries[i:])
		r.entries[i] = e
		for i, x := range r.idx {
			x.insertAt(ps[i])
		}
		return nil
	}
	r.entries = append(r.entries, e)
	for i, x := range r.idx {
		x.insert(ps[i])
	}
	return nil
}

func (r *Ref) what() string {
	if r.isMap {
		return "map"
	}
	return "pattern file"
}

// ParseRef reads "#<id>" or "0x<id>" entry references as `set map`/`del map` accept them.
func ParseRef(s string) (uint64, bool) {
	var h string
	switch {
	case strings.HasPrefix(s, "#0x"), strings.HasPrefix(s, "#0X"):
		h = s[3:]
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0X"):
		h = s[2:]
	default:
		return 0, false
	}
	var v uint64
	if _, err := fmt.Sscanf(h, "%x", &v); err != nil || h == "" {
		return 0, false
	}
	return v, true
}

// SetID changes the value of one entry.
func (r *Ref) SetID(id uint64, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil {
		return ErrNotFound
	}
	if strings.ContainsAny(value, "\n\r") {
		return errors.New("values cannot contain line breaks")
	}
	e.Value = value
	r.emit(Delta{Op: OpSet, ID: id, Key: e.Key, Value: value})
	return nil
}

// SetKey changes the value of every entry whose key is exactly key, like `set map`.
// It returns how many changed.
func (r *Ref) SetKey(key, value string) (int, error) {
	if strings.ContainsAny(value, "\n\r") {
		return 0, errors.New("values cannot contain line breaks")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.entries {
		if e.Key == key {
			e.Value = value
			r.emit(Delta{Op: OpSet, ID: e.ID, Key: key, Value: value})
			n++
		}
	}
	if n == 0 {
		return 0, ErrNotFound
	}
	return n, nil
}

// DelID removes one entry.
func (r *Ref) DelID(id uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil {
		return ErrNotFound
	}
	r.delLocked(e)
	r.emit(Delta{Op: OpDel, ID: id, Key: e.Key})
	return nil
}

// DelKey removes every entry whose key is exactly key (`del map`, `del acl`).
func (r *Ref) DelKey(key string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var del []*entry
	for _, e := range r.entries {
		if e.Key == key {
			del = append(del, e)
		}
	}
	for _, e := range del {
		r.delLocked(e)
		r.emit(Delta{Op: OpDel, ID: e.ID, Key: e.Key})
	}
	if len(del) == 0 {
		return 0, ErrNotFound
	}
	return len(del), nil
}

func (r *Ref) delLocked(e *entry) {
	delete(r.byID, e.ID)
	i := sort.Search(len(r.entries), func(i int) bool { return r.entries[i].ID >= e.ID })
	if i < len(r.entries) && r.entries[i] == e {
		r.entries = append(r.entries[:i], r.entries[i+1:]...)
	}
	for _, x := range r.idx {
		x.remove(e)
	}
}

// Clear removes every entry (`clear map`, `clear acl`). Ids keep counting.
func (r *Ref) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearLocked()
	r.emit(Delta{Op: OpClear})
}

func (r *Ref) clearLocked() {
	r.entries = nil
	r.byID = map[uint64]*entry{}
	for _, x := range r.idx {
		x.reset()
	}
}

// Get returns the entry with this id.
func (r *Ref) Get(id uint64) (Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.byID[id]; e != nil {
		return e.Entry, true
	}
	return Entry{}, false
}

// FindKey returns the entries whose key is exactly key, in order.
func (r *Ref) FindKey(key string) []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Entry
	for _, e := range r.entries {
		if e.Key == key {
			out = append(out, e.Entry)
		}
	}
	return out
}

// replaceLocked swaps in a whole new content (OpReplace, Restore).
func (r *Ref) replaceLocked(es []Entry) error {
	old := r.entries
	r.clearLocked()
	for _, x := range es {
		if r.byID[x.ID] != nil {
			continue
		}
		if err := r.addLocked(&entry{Entry: x}, true); err != nil {
			r.clearLocked()
			for _, e := range old {
				_ = r.addLocked(e, false) // was valid before
			}
			return err
		}
	}
	return nil
}

// loadFile fills an empty Ref from a file: `key value` per line for maps (the value is
// the rest of the line), one pattern per line otherwise; blank lines and lines starting
// with # are skipped, surrounding spaces trimmed.
func (r *Ref) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.file = path
	return r.parseLocked(path, data)
}

func (r *Ref) parseLocked(path string, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, value := line, ""
		if r.isMap {
			if i := strings.IndexAny(line, " \t"); i >= 0 {
				key, value = line[:i], strings.TrimSpace(line[i+1:])
			}
		}
		e := &entry{Entry: Entry{ID: r.next, Key: key, Value: value}, line: n}
		if err := r.addLocked(e, false); err != nil {
			return fmt.Errorf("%s:%d: %v", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %v", path, n+1, err)
	}
	return nil
}

// LoadString fills the Ref from text in the file format (tests, inline values).
func (r *Ref) LoadString(name, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.file == "" {
		r.file = name
	}
	return r.parseLocked(name, []byte(text))
}

func (r *Ref) emit(d Delta) {
	if r.store != nil {
		d.Map, d.IsMap = r.name, r.isMap
		r.store.enqueue(r, d)
	}
}

// ReserveID returns a fresh entry id without adding anything. A replicated write
// (committed through consensus before it is applied anywhere) reserves its id on the
// node that accepts the command, then every node, this one included, applies the
// resulting OpAdd with Store.Apply.
func (r *Ref) ReserveID() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.next
	r.next++
	return id
}

// CheckKey says whether key would be accepted by Add (valid for every way the Ref is
// used), without adding it.
func (r *Ref) CheckKey(key string) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if strings.ContainsAny(key, "\n\r") {
		return errors.New("keys cannot contain line breaks")
	}
	e := &entry{Entry: Entry{Key: key}}
	for _, x := range r.idx {
		if _, err := x.prepare(e); err != nil {
			return fmt.Errorf("%v (the %s is used with -m %s)", err, r.what(), x.kind)
		}
	}
	return nil
}
