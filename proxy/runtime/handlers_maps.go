package runtime

import (
	"fmt"
	"strings"

	"appl/proxy/maps"
)

// mapKind names what a command works on: "map" or "ACL" in HAProxy's
// texts, and which refs it accepts.
type mapKind struct {
	isMap bool
	name  string // "map" or "ACL"
	cmd   string // "map" or "acl"
}

var (
	kindMap = mapKind{isMap: true, name: "map", cmd: "map"}
	kindACL = mapKind{isMap: false, name: "ACL", cmd: "acl"}
)

// findRef resolves "<file>" or "#<id>"; the answer is HAProxy's when none.
func findRef(x *execCtx, k mapKind, name string) *maps.Ref {
	var r *maps.Ref
	if st := x.t.Maps(); st != nil && name != "" {
		r = st.Ref(name)
	}
	if r == nil || r.IsMap() != k.isMap {
		x.fail("Unknown " + k.name + " identifier. Please use #<id> or <file>.")
		return nil
	}
	return r
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func cmdShowMap(x *execCtx, args []string) { showRefs(x, kindMap, args) }
func cmdShowACL(x *execCtx, args []string) { showRefs(x, kindACL, args) }

func showRefs(x *execCtx, k mapKind, args []string) {
	name := arg(args, 2)
	if name == "" {
		x.line("# id (file) description")
		st := x.t.Maps()
		if st == nil {
			return
		}
		for _, r := range st.Refs(k.isMap) {
			desc := fmt.Sprintf("pattern loaded from file '%s'", r.Name())
			if uses := r.Uses(); len(uses) > 0 {
				desc += " used by " + strings.Join(uses, ", ") // "map at file 'F' line N"
			}
			x.line(oneLine(fmt.Sprintf("%d (%s) %s. curr_ver=0 next_ver=0 entry_cnt=%d", r.UID(), r.Name(), desc, r.Len())))
		}
		return
	}
	r := findRef(x, k, name)
	if r == nil {
		return
	}
	for _, e := range r.Entries() {
		if k.isMap {
			x.line(e.RefString() + " " + e.Key + " " + e.Value)
		} else {
			x.line(e.RefString() + " " + e.Key)
		}
	}
}

func cmdGetMap(x *execCtx, args []string) { getRef(x, kindMap, args) }
func cmdGetACL(x *execCtx, args []string) { getRef(x, kindACL, args) }

// getRef is `get map|acl <ref> <sample>`: one line per way the file is
// used (match method and case), as HAProxy prints one per expression.
func getRef(x *execCtx, k mapKind, args []string) {
	if len(args) < 4 {
		x.fail("Missing " + k.name + " identifier and/or key.")
		return
	}
	r := findRef(x, k, args[2])
	if r == nil {
		return
	}
	sample := args[3]
	idx := r.Indexes()
	if len(idx) == 0 {
		i, err := r.Index(maps.Str, false)
		if err != nil {
			x.failErr(err)
			return
		}
		idx = []*maps.Index{i}
	}
	for _, i := range idx {
		cs := "sensitive"
		if i.IgnoreCase() {
			cs = "insensitive"
		}
		var e maps.Entry
		found := false
		if i.Kind().NeedsPatterns() {
			e, found = i.Lookup(sample)
		}
		tree := "list"
		switch i.Kind() {
		case maps.Str, maps.IP, maps.Beg:
			tree = "tree"
		}
		switch {
		case k.isMap && found:
			x.line(fmt.Sprintf("type=%s, case=%s, found=yes, idx=%s, key=%q, value=%q, type=\"str\"", i.Kind(), cs, tree, e.Key, e.Value))
		case k.isMap:
			x.line(fmt.Sprintf("type=%s, case=%s, found=no", i.Kind(), cs))
		case found:
			x.line(fmt.Sprintf("type=%s, case=%s, match=yes, idx=%s, pattern=%q", i.Kind(), cs, tree, e.Key))
		default:
			x.line(fmt.Sprintf("type=%s, case=%s, match=no", i.Kind(), cs))
		}
	}
}

// addError turns a maps validation error into one line.
func addError(x *execCtx, err error) { x.failErr(err) }

func cmdAddMap(x *execCtx, args []string) {
	if len(args) < 5 {
		x.fail("'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload")
		return
	}
	r := findRef(x, kindMap, args[2])
	if r == nil {
		return
	}
	// HAProxy takes the value as one word and ignores the rest; a value
	// with spaces is written with `\ `.
	if _, err := r.Add(args[3], args[4]); err != nil {
		addError(x, err)
	}
}

func cmdAddACL(x *execCtx, args []string) {
	if len(args) < 4 {
		x.fail("'add acl' expects two parameters: ACL identifier and pattern.")
		return
	}
	r := findRef(x, kindACL, args[2])
	if r == nil {
		return
	}
	if _, err := r.Add(args[3], ""); err != nil {
		addError(x, err)
	}
}

// entryRef reads "#<ref>" as `show map` prints it (#0x1f); a key is
// anything else.
func entryRef(s string) (id uint64, isRef, ok bool) {
	if !strings.HasPrefix(s, "#") {
		return 0, false, false
	}
	id, ok = maps.ParseRef(s)
	if !ok && len(s) > 1 {
		// "#31": HAProxy reads the pointer with strtoul base 16 too
		id, ok = maps.ParseRef("#0x" + s[1:])
	}
	return id, true, ok
}

func cmdSetMap(x *execCtx, args []string) {
	if len(args) < 5 {
		x.fail("'set map' expects three parameters: map identifier, key and value.")
		return
	}
	r := findRef(x, kindMap, args[2])
	if r == nil {
		return
	}
	if id, isRef, ok := entryRef(args[3]); isRef {
		if !ok || r.SetID(id, args[4]) != nil {
			x.fail("key or pattern not found.")
		}
		return
	}
	if _, err := r.SetKey(args[3], args[4]); err != nil {
		if err == maps.ErrNotFound {
			x.fail("entry not found.")
			return
		}
		x.failErr(err)
	}
}

func cmdDelMap(x *execCtx, args []string) { delRef(x, kindMap, args) }
func cmdDelACL(x *execCtx, args []string) { delRef(x, kindACL, args) }

func delRef(x *execCtx, k mapKind, args []string) {
	if len(args) < 4 {
		x.fail("This command expects two parameters: " + k.name + " identifier and key.")
		return
	}
	r := findRef(x, k, args[2])
	if r == nil {
		return
	}
	if id, isRef, ok := entryRef(args[3]); isRef {
		if !ok || r.DelID(id) != nil {
			x.fail("Key not found.")
		}
		return
	}
	if _, err := r.DelKey(args[3]); err != nil {
		x.fail("Key not found.")
	}
}

func cmdClearMap(x *execCtx, args []string) { clearRef(x, kindMap, args) }
func cmdClearACL(x *execCtx, args []string) { clearRef(x, kindACL, args) }

func clearRef(x *execCtx, k mapKind, args []string) {
	if len(args) < 3 || args[2] == "" {
		x.fail("Missing " + k.name + " identifier.")
		return
	}
	if r := findRef(x, k, args[2]); r != nil {
		r.Clear()
	}
}
