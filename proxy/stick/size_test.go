package stick

import (
	"testing"
	"unsafe"
)

// The entry layout keeps the hot fields in the first cache line and the
// size on a 64-byte multiple so that allocations stay line aligned.
func TestEntryLayout(t *testing.T) {
	var e Entry
	if sz := unsafe.Sizeof(e); sz%64 != 0 {
		t.Errorf("Entry is %d bytes, want a multiple of 64", sz)
	}
	if off := unsafe.Offsetof(e.inline); off > 40 {
		t.Errorf("inline data at offset %d: the first values must share the first cache line", off)
	}
}
