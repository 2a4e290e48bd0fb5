package stick

import (
	"strings"
	"testing"
	"time"
)

func TestParseDef(t *testing.T) {
	tests := []struct {
		line string
		want string // Def.String()
	}{
		{"stick-table type ip size 5k expire 1m store conn_cnt", "stick-table type ip size 5120 expire 60000ms store conn_cnt"},
		{"type ip size 1m expire 24h store gpc0,gpc0_rate(31s) peers default_peers", "stick-table type ip size 1048576 expire 86400000ms peers default_peers store gpc0,gpc0_rate(31000)"},
		{"type binary len 8 size 1m expire 24h store http_req_rate(24h)", "stick-table type binary len 8 size 1048576 expire 86400000ms store http_req_rate(86400000)"},
		{"type string size 100k expire 60s store http_req_rate(60s)", "stick-table type string len 32 size 102400 expire 60000ms store http_req_rate(60000)"},
		{"type ipv6 size 100k expire 60s store http_req_rate(60s)", "stick-table type ipv6 size 102400 expire 60000ms store http_req_rate(60000)"},
		{"type integer size 10 nopurge store gpc0 store gpc1,gpt0", "stick-table type integer size 10 nopurge store gpc0,gpc1,gpt0"},
		{"type string len 8 size 1g srvkey addr", "stick-table type string len 8 size 1073741824 srvkey addr"},
		{"type ip size 10 expire 500", "stick-table type ip size 10 expire 500ms"},
		{"type ip size 10 store conn_rate(10s),conn_rate(10000)", "stick-table type ip size 10 store conn_rate(10000)"},
		{"type ip size 10 store server_id,server_key,conn_cur,sess_cnt,sess_rate(1s),http_req_cnt,http_err_cnt,http_err_rate(1m),bytes_in_cnt,bytes_out_cnt,bytes_in_rate(1s),bytes_out_rate(1s),gpc1_rate(1s),http_fail_cnt,http_fail_rate(1s)",
			"stick-table type ip size 10 store server_id,server_key,conn_cur,sess_cnt,sess_rate(1000),http_req_cnt,http_err_cnt,http_err_rate(60000),bytes_in_cnt,bytes_out_cnt,bytes_in_rate(1000),bytes_out_rate(1000),gpc1_rate(1000),http_fail_cnt,http_fail_rate(1000)"},
	}
	for _, tc := range tests {
		d, err := ParseDef(strings.Fields(tc.line))
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if got := d.String(); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.line, got, tc.want)
		}
		// The rendering parses back to the same definition.
		d2, err := ParseDef(strings.Fields(d.String()))
		if err != nil || d2.String() != d.String() {
			t.Errorf("%q: round trip gave %q, %v", tc.line, d2.String(), err)
		}
	}
}

func TestParseDefErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"size 10", "missing 'type'"},
		{"type ip", "missing 'size'"},
		{"type ipx size 1", "unknown type 'ipx', expected ip, ipv6, integer, string or binary"},
		{"type", "'type' expects ip, ipv6, integer, string or binary"},
		{"type ip size", "'size' expects a number of entries"},
		{"type ip size 10x", "invalid size '10x'"},
		{"type ip size 0", "size must be at least 1"},
		{"type ip size 10 expire", "'expire' expects a time"},
		{"type ip size 10 expire 10y", `bad time unit in "10y"`},
		{"type ip size 10 expire 30d", "too large"},
		{"type ip size 10 bogus", "unknown keyword 'bogus'"},
		{"type ip len 4 size 10", "'len' must follow 'type string' or 'type binary'"},
		{"type string len 0 size 10", "invalid len '0'"},
		{"type string len size 10", "invalid len 'size'"},
		{"type ip size 10 store", "'store' expects a comma-separated list"},
		{"type ip size 10 store conn_cnt,,gpc0", "empty data type"},
		{"type ip size 10 store foo", "unknown data type 'foo'"},
		{"type ip size 10 store conn_rate", "'conn_rate' requires a period"},
		{"type ip size 10 store conn_rate()", "'conn_rate' requires a period"},
		{"type ip size 10 store conn_rate(10q)", "invalid period '10q'"},
		{"type ip size 10 store conn_rate(0)", "must be between 1ms and 24d"},
		{"type ip size 10 store conn_rate(10s", "missing ')'"},
		{"type ip size 10 store conn_cnt(10s)", "'conn_cnt' takes no argument"},
		{"type ip size 10 store gpc(3)", "not supported yet"},
		{"type ip size 10 store conn_rate(1s),conn_rate(2s)", "stored twice with different periods"},
		{"type ip size 10 srvkey foo", "invalid srvkey 'foo'"},
		{"type ip size 10 peers", "'peers' expects the name"},
	}
	for _, tc := range tests {
		_, err := ParseDef(strings.Fields(tc.line))
		if err == nil {
			t.Errorf("%q: no error, want %q", tc.line, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want it to contain %q", tc.line, err, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := map[string]time.Duration{
		"0": 0, "500": 500 * time.Millisecond, "10ms": 10 * time.Millisecond, "1500us": 1500 * time.Microsecond,
		"30s": 30 * time.Second, "2m": 2 * time.Minute, "3h": 3 * time.Hour, "1d": 24 * time.Hour,
	}
	for in, want := range tests {
		got, err := ParseTime(in)
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "s", "-1s", "1.5s", "10 s", "99999999999999999999999"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}

func TestEnableServer(t *testing.T) {
	d := mustDef(t, "type ip size 5k expire 1m store conn_cnt")
	d.EnableServer()
	d.EnableServer()
	if got := d.String(); got != "stick-table type ip size 5120 expire 60000ms store conn_cnt,server_id,server_key" {
		t.Errorf("got %s", got)
	}
}

func FuzzParseDef(f *testing.F) {
	for _, s := range []string{
		"stick-table type ip size 5k expire 1m store conn_cnt",
		"type string len 8 size 1m store gpc0,gpc0_rate(31s) store http_req_rate(10s)",
		"type binary len 4 size 1 nopurge peers p srvkey addr",
		"type ip size 1 store conn_rate((1s)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		d, err := ParseDef(strings.Fields(line))
		if err != nil {
			return
		}
		// Anything accepted renders to a line that parses to the same thing.
		d2, err := ParseDef(strings.Fields(d.String()))
		if err != nil {
			t.Fatalf("%q rendered as %q which fails: %v", line, d.String(), err)
		}
		if d2.String() != d.String() {
			t.Fatalf("%q: %q != %q", line, d2.String(), d.String())
		}
		New("fuzz", d, Options{Shards: 1}) // must not panic
	})
}
