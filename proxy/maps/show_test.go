package maps

import (
	"os"
	"path/filepath"
	"testing"
)

func TestShowFormats(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "hosts.map")
	os.WriteFile(p, []byte("www.example.com bk_www\napi.example.com bk api\n"), 0o644)
	s := NewStore()
	r, err := s.Load(p, p, true)
	if err != nil {
		t.Fatal(err)
	}
	r.NoteUse("map", "/etc/appl/appl.cfg", 12)
	r.NoteUse("map", "/etc/appl/appl.cfg", 12) // once
	want := "0 (" + p + ") pattern loaded from file '" + p + "' used by map at file '/etc/appl/appl.cfg' line 12. curr_ver=0 next_ver=0 entry_cnt=2"
	if got := r.ListLine(); got != want {
		t.Errorf("ListLine\n got %s\nwant %s", got, want)
	}
	if got := string(r.AppendShow(nil)); got != "0x1 www.example.com bk_www\n0x2 api.example.com bk api\n" {
		t.Errorf("AppendShow: %q", got)
	}
	x := index(t, r, Str, false)
	if got := x.Describe("api.example.com"); got != `type=str, case=sensitive, found=yes, idx=tree, key="api.example.com", value="bk api", type="str"` {
		t.Errorf("Describe: %s", got)
	}
	if got := x.Describe("nope"); got != "type=str, case=sensitive, found=no" {
		t.Errorf("Describe miss: %s", got)
	}
	a := loadString(t, false, "/api\n/static\n")
	xb := index(t, a, Beg, true)
	if got := xb.Describe("/STATIC/x"); got != `type=beg, case=insensitive, match=yes, idx=list, pattern="/static"` {
		t.Errorf("Describe acl: %s", got)
	}
	if got := string(a.AppendShow(nil)); got != "0x1 /api\n0x2 /static\n" {
		t.Errorf("AppendShow acl: %q", got)
	}
}
