package stick

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func showString(t *testing.T, tb *Table, args ...string) string {
	t.Helper()
	f, err := tb.ParseFilter(args)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", args, err)
	}
	var b strings.Builder
	if err := tb.Show(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func addr(e *Entry) string { return fmt.Sprintf("%p", e) }

// The output must be byte for byte HAProxy's (2.6, checked against a real
// haproxy on the stats socket): header, entries in key order, data in
// HAProxy's type order whatever the store order, rates with their period
// in ms, server_key "-" when unset.
func TestShowFormat(t *testing.T) {
	clk := newFakeClock()
	tb := New("http_proxy", mustDef(t, "type ip size 200k expire 1h store bytes_out_rate(60s),gpc0,conn_rate(30s),server_key,conn_cnt,server_id"), Options{Now: clk.Now})
	if err := tb.ExecSet(strings.Fields("key 127.0.0.2 data.gpc0 1 data.conn_rate 10 data.conn_cnt 3 data.server_id 2 data.server_key web1")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(11 * time.Millisecond)
	e1, _ := tb.Track(ipKey(t, tb, "127.0.0.1"))
	e1.CountConn()
	e1.AddBytes(0, 187)
	e2 := tb.Lookup(ipKey(t, tb, "127.0.0.2"))
	clk.Advance(5 * time.Millisecond)

	want := "# table: http_proxy, type: ip, size:204800, used:2\n" +
		addr(e1) + ": key=127.0.0.1 use=1 exp=3599995 server_id=0 gpc0=0 conn_cnt=1 conn_rate(30000)=1 bytes_out_rate(60000)=187 server_key=-\n" +
		addr(e2) + ": key=127.0.0.2 use=0 exp=3599984 server_id=2 gpc0=1 conn_cnt=3 conn_rate(30000)=10 bytes_out_rate(60000)=0 server_key=web1\n"
	if got := showString(t, tb); got != want {
		t.Errorf("show table:\n got:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(addr(e1), "0x") {
		t.Errorf("entry id %q should look like 0x...", addr(e1))
	}

	// Filters: used: stays the table's count, only matching lines follow.
	hdr := "# table: http_proxy, type: ip, size:204800, used:2\n"
	line2 := addr(e2) + ": key=127.0.0.2 use=0 exp=3599984 server_id=2 gpc0=1 conn_cnt=3 conn_rate(30000)=10 bytes_out_rate(60000)=0 server_key=web1\n"
	for _, args := range [][]string{
		{"data.gpc0", "gt", "0"},
		{"data.conn_rate", "gt", "5"},
		{"data.gpc0", "eq", "1", "data.conn_cnt", "ge", "3"},
		{"key", "127.0.0.2"},
	} {
		if got := showString(t, tb, args...); got != hdr+line2 {
			t.Errorf("show table %v:\n got:\n%s\nwant:\n%s", args, got, hdr+line2)
		}
	}
	if got := showString(t, tb, "key", "9.9.9.9"); got != hdr {
		t.Errorf("absent key: got %q", got)
	}
	if got := showString(t, tb, "data.gpc0", "lt", "0"); got != hdr {
		t.Errorf("no match: got %q", got)
	}
	if got := tb.Header(); got != strings.TrimSuffix(hdr, "\n") {
		t.Errorf("Header() = %q", got)
	}
}

func TestShowNoExpireAndKeyTypes(t *testing.T) {
	clk := newFakeClock()
	tb := New("t_str", mustDef(t, "type string len 8 size 10 store gpc0"), Options{Now: clk.Now})
	tb.ExecSet([]string{"key", "abcdefghijkl", "data.gpc0", "1"})
	tb.ExecSet([]string{"key", "a"})
	ea := tb.Lookup(tb.StringKey("a"))
	eb := tb.Lookup(tb.StringKey("abcdefgh"))
	want := "# table: t_str, type: string, size:10, used:2\n" +
		addr(ea) + ": key=a use=0 exp=0 gpc0=0\n" +
		addr(eb) + ": key=abcdefgh use=0 exp=0 gpc0=1\n"
	if got := showString(t, tb); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	ti := New("t_int", mustDef(t, "type integer size 10"), Options{Now: clk.Now})
	ti.ExecSet([]string{"key", "4294967295"})
	ti.ExecSet([]string{"key", "42"})
	got := showString(t, ti)
	if !strings.Contains(got, ": key=42 use=0 exp=0\n") || strings.Index(got, "key=42") > strings.Index(got, "key=4294967295") {
		t.Errorf("integer keys in numeric order expected:\n%s", got)
	}
}

func TestFilterErrors(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type integer size 10 store gpc0", clk)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"data.bogus", "gt", "1"}, "Filter entry #1: Unknown data type"},
		{[]string{"data.gpc1", "gt", "1"}, "Filter entry #1: Data type not stored in this table"},
		{[]string{"data.gpc0", "xx", "1"}, `Filter entry #1: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"`},
		{[]string{"data.gpc0", "gt"}, "Filter entry #1: Require a valid integer value to compare against"},
		{[]string{"data.gpc0", "gt", "x"}, "Filter entry #1: Require a valid integer value to compare against"},
		{[]string{"data.gpc0", "gt", "1", "key", "3"}, "Filter entry #2: Unknown data type"},
		{[]string{"key"}, "Key value expected"},
		{[]string{"key", "x"}, "Invalid key"},
		{[]string{"foo"}, `Optional argument only supports "data.<store_data_type>" <operator> <value> and key <key>`},
	}
	for _, tc := range tests {
		_, err := tb.ParseFilter(tc.args)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestExecSetErrors(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 10 store conn_cnt,server_key", clk)
	tests := []struct {
		args string
		want string
	}{
		{"", "Required arguments: <table> key <key> [data.<store_data_type> <value>]*"},
		{"foo", `"data.<type>" followed by a value expected`},
		{"key", "Key value expected"},
		{"key 1.2.3", "Invalid key"},
		{"key 1.1.1.1 foo", `"data.<type>" followed by a value expected`},
		{"key 1.1.1.1 data.nope 7", "Unknown data type"},
		{"key 1.1.1.1 data.gpc0 7", "Data type not stored in this table"},
		{"key 1.1.1.1 data.conn_cnt", "Require a valid integer value to store"},
		{"key 1.1.1.1 data.conn_cnt x", "Require a valid integer value to store"},
		{"key 1.1.1.1 data.conn_cnt 1 data.gpc0 1", "Data type not stored in this table"},
	}
	for _, tc := range tests {
		err := tb.ExecSet(strings.Fields(tc.args))
		if err == nil || err.Error() != tc.want {
			t.Errorf("set table t %s: error %v, want %q", tc.args, err, tc.want)
		}
	}
	if tb.Len() != 0 {
		t.Errorf("failed set commands created %d entries", tb.Len())
	}
	if err := tb.ExecSet(strings.Fields("key 1.1.1.1 data.conn_cnt -5 data.server_key web2")); err != nil {
		t.Fatal(err)
	}
	e := tb.Lookup(ipKey(t, tb, "1.1.1.1"))
	if v, _ := e.Get(DataConnCnt); v != 4294967291 {
		t.Errorf("conn_cnt = %d, want -5 as a 32-bit unsigned like HAProxy", v)
	}
	if _, name := e.Server(); name != "web2" {
		t.Errorf("server_key = %q", name)
	}
}

func TestExecClear(t *testing.T) {
	clk := newFakeClock()
	tb := newTable(t, "type ip size 10 store gpc0", clk)
	for i, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		tb.ExecSet([]string{"key", ip, "data.gpc0", fmt.Sprint(i)})
	}
	if n, err := tb.ExecClear([]string{"key", "127.0.0.1"}); err != nil || n != 1 {
		t.Errorf("clear key: %d, %v", n, err)
	}
	if n, err := tb.ExecClear([]string{"data.gpc0", "eq", "1"}); err != nil || n != 1 {
		t.Errorf("clear data.gpc0 eq 1: %d, %v", n, err)
	}
	if tb.Lookup(ipKey(t, tb, "127.0.0.2")) != nil || tb.Lookup(ipKey(t, tb, "127.0.0.3")) == nil {
		t.Error("clear by data removed the wrong entry")
	}
	if _, err := tb.ExecClear([]string{"data.gpc1", "eq", "1"}); err == nil {
		t.Error("clear with a data type not stored must fail")
	}
	if n, err := tb.ExecClear(nil); err != nil || n != 2 || tb.Len() != 0 {
		t.Errorf("clear all: %d, %v, len %d", n, err, tb.Len())
	}
}

// Runtime API words reach ParseFilter, ExecSet and ExecClear unchecked:
// any input gives a result or an error, never a panic.
func FuzzCommands(f *testing.F) {
	for _, s := range []string{"key 1.2.3.4 data.gpc0 1", "data.gpc0 gt 1 data.conn_rate le 3", "key", "data.server_key eq 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		tb := New("t", mustDef(t, "type ip size 4 store gpc0,conn_rate(1s),server_key"), Options{Shards: 1})
		words := strings.Fields(line)
		tb.ExecSet(words)
		if f, err := tb.ParseFilter(words); err == nil {
			var b strings.Builder
			tb.Show(&b, f)
		}
		tb.ExecClear(words)
		if tb.Len() > 4 {
			t.Fatal("table overfilled")
		}
	})
}
