package maps

import (
	"fmt"
	"strconv"
	"strings"
)

// This file renders what the runtime API prints, in HAProxy's formats.

// ListHeader is the first line of `show map` / `show acl` without an argument.
const ListHeader = "# id (file) description"

// ListLine is one line of `show map` / `show acl` without an argument, e.g.
// "0 (/etc/appl/hosts.map) pattern loaded from file '/etc/appl/hosts.map' used by map at
// file '/etc/appl/appl.cfg' line 12. curr_ver=0 next_ver=0 entry_cnt=2".
func (r *Ref) ListLine() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%d (%s) pattern loaded from file '%s'", r.uid, r.file, r.file)
	if len(r.uses) > 0 {
		b.WriteString(" used by ")
		b.WriteString(strings.Join(r.uses, ", "))
	}
	fmt.Fprintf(&b, ". curr_ver=0 next_ver=0 entry_cnt=%d", len(r.entries))
	return b.String()
}

// AppendShow appends `show map NAME` / `show acl NAME` output: one "0xID key value"
// (maps) or "0xID pattern" (ACLs) line per entry.
func (r *Ref) AppendShow(dst []byte) []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.entries {
		dst = append(dst, "0x"...)
		dst = strconv.AppendUint(dst, e.ID, 16)
		dst = append(dst, ' ')
		dst = append(dst, e.Key...)
		if r.isMap {
			dst = append(dst, ' ')
			dst = append(dst, e.Value...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// Describe answers `get map NAME VALUE` / `get acl NAME VALUE` for this index:
//
//	type=str, case=sensitive, found=yes, idx=tree, key="k", value="v", type="str"
//	type=beg, case=insensitive, match=yes, idx=list, pattern="/api"
func (x *Index) Describe(sample string) string {
	var b strings.Builder
	cs := "sensitive"
	if x.icase {
		cs = "insensitive"
	}
	fmt.Fprintf(&b, "type=%s, case=%s", x.kind, cs)
	e, ok := x.Lookup(sample)
	word := "match"
	if x.ref.isMap {
		word = "found"
	}
	if !ok {
		fmt.Fprintf(&b, ", %s=no", word)
		return b.String()
	}
	idx := "list"
	if x.kind == Str || x.kind == IP {
		idx = "tree"
	}
	fmt.Fprintf(&b, ", %s=yes, idx=%s", word, idx)
	if x.ref.isMap {
		fmt.Fprintf(&b, ", key=%q, value=%q, type=\"str\"", e.Key, e.Value)
	} else {
		fmt.Fprintf(&b, ", pattern=%q", e.Key)
	}
	return b.String()
}
