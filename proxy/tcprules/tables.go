package tcprules

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"sync"

	"appl/internal/cfgfile"
	"appl/proxy/stick"
)

// Tables is the registry of stick tables by name (the proxy section that declares each
// one). It lives as long as the process: a reload compiles the new configuration into a
// Build and commits it, which keeps every table whose definition did not change, with
// all its entries (DESIGN: a reload keeps every table in memory).
type Tables struct {
	opt stick.Options

	mu sync.RWMutex
	m  map[string]*stick.Table
	// commit serialises commits: each compares against the tables of the one before.
	commit sync.Mutex
}

// NewTables returns an empty registry; opt is given to every table it makes (tests pass
// a fake clock).
func NewTables(opt stick.Options) *Tables {
	return &Tables{opt: opt, m: map[string]*stick.Table{}}
}

// Get returns the committed table named name, or nil.
func (ts *Tables) Get(name string) *stick.Table {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	return ts.m[name]
}

// Names lists the committed tables, sorted (`show table` without a name).
func (ts *Tables) Names() []string {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	out := make([]string, 0, len(ts.m))
	for n := range ts.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// PurgeExpired removes the expired entries of every table; the data plane calls it from
// a ticker (lookups also drop expired entries by themselves). It returns how many went.
func (ts *Tables) PurgeExpired() int {
	ts.mu.RLock()
	list := make([]*stick.Table, 0, len(ts.m))
	for _, t := range ts.m {
		list = append(list, t)
	}
	ts.mu.RUnlock()
	n := 0
	for _, t := range list {
		n += t.PurgeExpired()
	}
	return n
}

// Begin starts compiling a configuration. Nothing changes in ts until Commit, so a
// configuration that fails to compile is simply dropped with its Build.
func (ts *Tables) Begin() *Build {
	return &Build{ts: ts, decl: map[string]*decl{}, slots: map[string]*slot{}}
}

// Build collects the stick-table declarations and table references of one
// configuration while its sections are compiled.
type Build struct {
	ts    *Tables
	decl  map[string]*decl
	slots map[string]*slot
	refs  []tableRef
	done  bool
}

// decl is one declared table: its definition and the slot rules point to.
type decl struct {
	pos  cfgfile.Pos
	def  stick.Def
	slot *slot
	// server: referenced by a stick rule, so server_id and server_key are stored.
	server bool
}

// slot is where rules find a table; it is filled by Commit, so that a rule may name a
// table declared further down the file, and so that a stick rule anywhere can add
// server_id to a table's definition before the table is made.
type slot struct {
	name string
	t    *stick.Table
	kt   stick.KeyType
}

// tableRef is a `table NAME` of a rule, checked by Commit.
type tableRef struct {
	line   cfgfile.Line
	name   string
	server bool
}

// slotFor returns the slot of table name, made on first use.
func (b *Build) slotFor(name string) *slot {
	s := b.slots[name]
	if s == nil {
		s = &slot{name: name}
		b.slots[name] = s
	}
	return s
}

// declare records a stick-table line. The two halves of a listen section may declare
// the same table twice; an identical definition is the same table.
func (b *Build) declare(l cfgfile.Line, name string, def stick.Def) (*slot, error) {
	if d := b.decl[name]; d != nil {
		if !sameDef(d.def, def) {
			return nil, l.Errorf("stick-table %q declared twice with different definitions (first at %s)", name, d.pos)
		}
		return d.slot, nil
	}
	d := &decl{pos: l.Pos, def: def, slot: b.slotFor(name)}
	b.decl[name] = d
	return d.slot, nil
}

// ref records that a rule uses table name and returns its slot; server says a stick
// rule stores servers in it.
func (b *Build) ref(l cfgfile.Line, name string, server bool) *slot {
	b.refs = append(b.refs, tableRef{line: l, name: name, server: server})
	return b.slotFor(name)
}

// lookup returns a table of this build by name after Commit (fetches with a table
// argument); nil when there is none.
func (b *Build) lookup(name string) *stick.Table {
	if d := b.decl[name]; d != nil {
		return d.slot.t
	}
	return nil
}

// Changes says what a Commit did to the registry, so that the caller can attach the
// replication sink to new tables and log what was rebuilt.
type Changes struct {
	Kept    []string // same definition: the same *stick.Table, entries untouched
	Rebuilt []string // definition changed, same key type: entries copied over
	Emptied []string // key type changed: a new empty table (entries cannot be converted)
	Created []string // new names
	Dropped []string // no longer declared: closed
	// Warnings are copy failures of rebuilt tables (the new table then starts with
	// what could be restored).
	Warnings []error
}

// Commit checks the table references of every compiled section, makes the tables and
// swaps them into the registry. On error nothing changed and the Build is spent: the
// running configuration keeps its tables. Rules compiled into b work only after Commit.
func (b *Build) Commit() (Changes, error) {
	var ch Changes
	if b.done {
		return ch, fmt.Errorf("tcprules: Build committed twice")
	}
	var errs cfgfile.Errors
	for _, r := range b.refs {
		d := b.decl[r.name]
		if d == nil {
			errs = append(errs, r.line.Errorf("no stick-table named %q (expected the name of a frontend, backend or listen section that declares one: %s)", r.name, b.declaredNames()))
			continue
		}
		if r.server {
			d.server = true
		}
	}
	if err := errs.Err(); err != nil {
		b.done = true
		return ch, err
	}
	b.done = true
	ts := b.ts
	ts.commit.Lock()
	defer ts.commit.Unlock()

	ts.mu.RLock()
	old := ts.m
	ts.mu.RUnlock()
	next := make(map[string]*stick.Table, len(b.decl))
	var closing []*stick.Table
	for _, name := range sortedKeys(b.decl) {
		d := b.decl[name]
		def := d.def
		if d.server {
			def.EnableServer()
		}
		prev := old[name]
		switch {
		case prev != nil && sameDef(prev.Def(), def):
			d.slot.t = prev
			ch.Kept = append(ch.Kept, name)
		case prev != nil && prev.Def().Type == def.Type && prev.Def().KeyLen == def.KeyLen:
			t := stick.New(name, def, ts.opt)
			var buf bytes.Buffer
			err := prev.Snapshot(&buf)
			if err == nil {
				err = t.Restore(&buf)
			}
			if err != nil {
				ch.Warnings = append(ch.Warnings, fmt.Errorf("stick-table %q: entries not carried over the reload: %v", name, err))
			}
			d.slot.t = t
			closing = append(closing, prev)
			ch.Rebuilt = append(ch.Rebuilt, name)
		default:
			d.slot.t = stick.New(name, def, ts.opt)
			if prev != nil {
				closing = append(closing, prev)
				ch.Emptied = append(ch.Emptied, name)
			} else {
				ch.Created = append(ch.Created, name)
			}
		}
		d.slot.kt = def.Type
		next[name] = d.slot.t
	}
	for _, name := range sortedKeys(old) {
		if _, ok := next[name]; !ok {
			closing = append(closing, old[name])
			ch.Dropped = append(ch.Dropped, name)
		}
	}
	ts.mu.Lock()
	ts.m = next
	ts.mu.Unlock()
	// Sessions still running on the old rules keep their entry handles; changes through
	// them land in the closed table and are dropped with it.
	for _, t := range closing {
		t.Close()
	}
	return ch, nil
}

func (b *Build) declaredNames() string {
	if len(b.decl) == 0 {
		return "none declared"
	}
	return "declared: " + fmt.Sprint(sortedKeys(b.decl))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameDef(a, b stick.Def) bool {
	return a.Type == b.Type && a.KeyLen == b.KeyLen && a.Size == b.Size && a.Expire == b.Expire &&
		a.NoPurge == b.NoPurge && a.Peers == b.Peers && a.SrvKey == b.SrvKey && slices.Equal(a.Store, b.Store)
}

// Close stops the replication flushers of every table (shutdown).
func (ts *Tables) Close() {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	for _, t := range ts.m {
		t.Close()
	}
}
