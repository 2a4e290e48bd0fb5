package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"appl/proxy/maps"
	"appl/proxy/runtime"
)

// fakeLog is a one-node log: Commit applies each entry at the next index, on every
// store given (the boxes), and returns the first box's result, as replication does.
type fakeLog struct {
	mu     sync.Mutex
	index  uint64
	boxes  []*maps.Store
	refuse error
	srv    []string
}

func (f *fakeLog) commit(_ context.Context, stream string, p []byte) error {
	if f.refuse != nil {
		return f.refuse
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	var first error
	for i, s := range f.boxes {
		err := MapsStream{Store: s}.ApplyRemoteAt(f.index, p)
		if i == 0 {
			first = err
		}
	}
	return first
}

func newWrites(f *fakeLog) *Writes {
	return &Writes{
		Maps:   f.boxes[0],
		Commit: f.commit,
		Server: func(_ context.Context, be, srv, admin string, w int) error {
			if f.refuse != nil {
				return f.refuse
			}
			f.srv = append(f.srv, fmt.Sprintf("%s/%s %s %d", be, srv, admin, w))
			return nil
		},
		ServerExists: func(be, srv string) error {
			if be != "web" {
				return runtime.ErrNoBackend
			}
			if srv != "s1" {
				return runtime.ErrNoServer
			}
			return nil
		},
	}
}

func twoBoxes(t *testing.T) *fakeLog {
	f := &fakeLog{}
	for range 2 {
		s := maps.NewStore()
		s.Create("/etc/appl/hosts.map", true)
		s.Create("/etc/appl/allow.lst", false)
		f.boxes = append(f.boxes, s)
	}
	return f
}

func run(t *testing.T, w *Writes, level runtime.Level, line string) (string, bool) {
	t.Helper()
	args, err := runtime.SplitWords(line)
	if err != nil {
		t.Fatal(err)
	}
	return w.Handle(level, args)
}

func TestMapWritesAreCommittedWithEqualIDs(t *testing.T) {
	f := twoBoxes(t)
	w := newWrites(f)
	for _, line := range []string{
		"add map /etc/appl/hosts.map a.example be_a",
		"add map /etc/appl/hosts.map b.example be_b",
		"add map /etc/appl/hosts.map a.example be_a2",
		"set map /etc/appl/hosts.map a.example be_x",
		"del map /etc/appl/hosts.map b.example",
		"add acl /etc/appl/allow.lst 10.0.0.1",
	} {
		if ans, ok := run(t, w, runtime.LevelAdmin, line); !ok || ans != "" {
			t.Fatalf("%s: %q %v", line, ans, ok)
		}
	}
	for _, name := range []string{"/etc/appl/hosts.map", "/etc/appl/allow.lst"} {
		a, b := f.boxes[0].Ref(name).Entries(), f.boxes[1].Ref(name).Entries()
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%s differs:\n%v\n%v", name, a, b)
		}
	}
	es := f.boxes[1].Ref("/etc/appl/hosts.map").Entries()
	if len(es) != 2 || es[0].Value != "be_x" || es[1].Value != "be_x" || es[0].ID == es[1].ID {
		t.Fatalf("entries: %+v", es)
	}
	// By id, as `show map` prints it.
	if ans, _ := run(t, w, runtime.LevelAdmin, "del map /etc/appl/hosts.map #"+es[0].RefString()); ans != "" {
		t.Fatalf("del by ref: %q", ans)
	}
	if n := f.boxes[1].Ref("/etc/appl/hosts.map").Len(); n != 1 {
		t.Fatalf("after del by ref: %d entries on the other box", n)
	}
	if ans, _ := run(t, w, runtime.LevelAdmin, "clear map /etc/appl/hosts.map"); ans != "" || f.boxes[1].Ref("/etc/appl/hosts.map").Len() != 0 {
		t.Fatalf("clear: %q", ans)
	}
}

func TestWriteAnswersAndRefusals(t *testing.T) {
	f := twoBoxes(t)
	w := newWrites(f)
	cases := []struct {
		level runtime.Level
		line  string
		want  string
	}{
		{runtime.LevelUser, "add map /etc/appl/hosts.map k v", "Permission denied\n"},
		{runtime.LevelOperator, "set server web/s1 state maint", "Permission denied\n"},
		{runtime.LevelAdmin, "add map nope k v", "Unknown map identifier. Please use #<id> or <file>.\n"},
		{runtime.LevelAdmin, "add map /etc/appl/allow.lst k v", "Unknown map identifier. Please use #<id> or <file>.\n"},
		{runtime.LevelAdmin, "add map /etc/appl/hosts.map k", "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n"},
		{runtime.LevelAdmin, "set map /etc/appl/hosts.map absent v", "entry not found.\n"},
		{runtime.LevelAdmin, "del map /etc/appl/hosts.map absent", "Key not found.\n"},
		{runtime.LevelAdmin, "del acl /etc/appl/allow.lst #0x99", "Key not found.\n"},
		{runtime.LevelAdmin, "set server web/s9 state maint", "No such server.\n"},
		{runtime.LevelAdmin, "set server nope/s1 state maint", "No such backend.\n"},
		{runtime.LevelAdmin, "set server web/s1 state bogus", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"},
		{runtime.LevelAdmin, "set server web/s1 weight 300", "Absolute weight can only be between 0 and 256 inclusive.\n"},
		{runtime.LevelAdmin, "set server web/s1 state drain", ""},
		{runtime.LevelAdmin, "set weight web/s1 7", ""},
		{runtime.LevelAdmin, "disable server web/s1", ""},
	}
	for _, c := range cases {
		if got, ok := run(t, w, c.level, c.line); !ok || got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.line, got, ok, c.want)
		}
	}
	if got := strings.Join(f.srv, ","); got != "web/s1 drain -1,web/s1  7,web/s1 maint -1" {
		t.Fatalf("server commits: %q", got)
	}
	// Reads and other commands are not this package's.
	for _, line := range []string{"show map", "get map /etc/appl/hosts.map x", "set server web/s1 addr 1.2.3.4", "show table"} {
		if _, ok := run(t, w, runtime.LevelAdmin, line); ok {
			t.Errorf("%s handled as a replicated write", line)
		}
	}
}

func TestNoQuorumIsOneClearLine(t *testing.T) {
	f := twoBoxes(t)
	f.refuse = errors.New("replication: no quorum: the cluster peer is unreachable; map and config writes are refused until it returns or an operator runs 'applctl cluster recover --force-single'")
	w := newWrites(f)
	for _, line := range []string{"add map /etc/appl/hosts.map k v", "clear acl /etc/appl/allow.lst", "set server web/s1 state maint"} {
		got, _ := run(t, w, runtime.LevelAdmin, line)
		if !strings.HasPrefix(got, "no quorum: the cluster peer is unreachable") || strings.Count(got, "\n") != 1 {
			t.Fatalf("%s: %q", line, got)
		}
	}
	if n := f.boxes[0].Ref("/etc/appl/hosts.map").Len(); n != 0 {
		t.Fatalf("a refused write changed the map: %d entries", n)
	}
}

func TestMapsStreamRejectsAddOutsideTheLog(t *testing.T) {
	s := maps.NewStore()
	s.Create("m", true)
	p := maps.MarshalDeltas([]maps.Delta{{Map: "m", IsMap: true, Op: maps.OpAdd, Key: "k", Value: "v"}})
	if err := (MapsStream{Store: s}).ApplyRemote(p); err == nil {
		t.Fatal("an id-less add applied outside the log")
	}
	if err := (MapsStream{Store: s}).ApplyRemoteAt(1, []byte{0xff, 0x01}); err == nil {
		t.Fatal("a malformed payload applied")
	}
}
