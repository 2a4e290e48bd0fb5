package stats

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The CSV header is HAProxy 2.6's, byte for byte: testdata holds the first line of
// `curl 'http://127.0.0.1:PORT/st;csv'` against haproxy 2.6.12.
func TestCSVHeaderMatchesHAProxy26(t *testing.T) {
	want, err := os.ReadFile("testdata/haproxy-2.6.12-csv-header.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(AppendCSVHeader(nil)); got != string(want) {
		t.Fatalf("header differs\n got %s\nwant %s", got, want)
	}
}

// TestCSVHeaderLiveHAProxy starts the installed haproxy on loopback with a stats page
// and compares its `;csv` header with ours, and the column count of its rows.
func TestCSVHeaderLiveHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global
    pidfile %s/pid
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen stats
    bind %s
    stats enable
    stats uri /st
`, dir, addr)
	path := filepath.Join(dir, "h.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-db", "-f", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err = http.Get("http://" + addr + "/st;csv")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling haproxy's start-up, bounded by the deadline
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatal("empty CSV")
	}
	header := sc.Text() + "\n"
	if ours := string(AppendCSVHeader(nil)); header != ours {
		t.Fatalf("live haproxy header differs\nhaproxy %s\nappl    %s", header, ours)
	}
	rows := 0
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		if n := strings.Count(sc.Text(), ","); n != int(NumCols) {
			t.Errorf("haproxy row with %d commas, we print %d: %s", n, NumCols, sc.Text())
		}
		rows++
	}
	if rows != 2 {
		t.Errorf("haproxy printed %d rows, want FRONTEND and BACKEND", rows)
	}
}

// Rows follow HAProxy's layout: per proxy FRONTEND, servers, BACKEND, every row with
// every column, readable by a CSV parser.
func TestRowsCSV(t *testing.T) {
	src := seedSource()
	out := AppendCSVHeader(nil)
	for _, r := range Rows(src.Snapshot()) {
		out = r.AppendCSV(out)
	}
	rd := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(out), "# ")))
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, n := range recs[0] {
		col[n] = i
	}
	got := func(row int, name string) string { return recs[row][col[name]] }
	var order []string
	for _, r := range recs[1:] {
		order = append(order, r[0]+"/"+r[1])
	}
	want := "haproxy_10.2.2.5_80/FRONTEND haproxy_10.2.2.5_80/http_srv-1 haproxy_10.2.2.5_80/http_srv-2 haproxy_10.2.2.5_80/BACKEND stats/FRONTEND stats/BACKEND"
	if strings.Join(order, " ") != want {
		t.Fatalf("order %v", order)
	}
	checks := []struct {
		row        int
		col, value string
	}{
		{1, "status", "OPEN"}, {1, "scur", "4"}, {1, "smax", "9"}, {1, "dreq", "1"}, {1, "type", "0"}, {1, "mode", "http"},
		{2, "status", "UP"}, {2, "check_status", "L4OK"}, {2, "check_desc", "Layer4 check passed"}, {2, "weight", "1"}, {2, "act", "1"},
		{2, "lastchg", "90"}, {2, "addr", "198.18.6.1:80"}, {2, "sid", "1"}, {2, "type", "2"}, {2, "check_health", "4"},
		{3, "status", "DOWN 1/2"}, {3, "chkfail", "4"}, {3, "chkdown", "1"}, {3, "last_chk", "Connection refused"}, {3, "check_rise", "2"},
		{4, "status", "UP"}, {4, "algo", "source"}, {4, "act", "1"}, {4, "weight", "1"}, {4, "type", "1"}, {4, "iid", "1"},
		{6, "status", "UP"}, {6, "iid", "2"}, {6, "pid", "1"},
	}
	for _, c := range checks {
		if v := got(c.row, c.col); v != c.value {
			t.Errorf("row %s %s = %q, want %q", order[c.row-1], c.col, v, c.value)
		}
	}
	// A name with a comma cannot break the columns.
	r := NewRow("a,b", "s\nx", TypeServer, 1, 1)
	r.SetStr(ColCheckDesc, "x,y")
	if line := string(r.AppendCSV(nil)); strings.Count(line, ",") != int(NumCols) || strings.Count(line, "\n") != 1 {
		t.Errorf("unsafe row %q", line)
	}
}

func TestCSVFromPage(t *testing.T) {
	cfg := loadSeed(t, "004-l7.cfg")
	src := seedSource()
	src.snap.Proxies[0].Backend.Servers[0].State = StateMaint
	p := New("stats", cfg.Backend("stats").Stats, nil, src)
	r := do(t, p, cfg, get("/stats;csv;norefresh", basic("admin", "admin")), nil)
	if r.status != 200 || r.header("Content-Type") != "text/plain" || !strings.HasPrefix(r.body, string(AppendCSVHeader(nil))) ||
		strings.Count(r.body, "\n") != 7 || !strings.Contains(r.body, ",http_srv-1,") {
		t.Fatalf("csv: %d %q\n%s", r.status, r.head, r.body)
	}
	r = do(t, p, cfg, get("/stats;csv;no-maint", basic("admin", "admin")), nil)
	if strings.Contains(r.body, ",http_srv-1,") || !strings.Contains(r.body, ",http_srv-2,") {
		t.Errorf(";no-maint kept a server in maintenance:\n%s", r.body)
	}
	r = do(t, p, cfg, get("/stats;csv;up", basic("admin", "admin")), nil)
	if strings.Contains(r.body, ",http_srv-2,") || strings.Contains(r.body, ",http_srv-1,") {
		t.Errorf(";up kept a server not up:\n%s", r.body)
	}
	r = do(t, p, cfg, get("/stats;norefresh", basic("admin", "admin")), nil)
	if strings.Contains(r.body, `http-equiv="refresh"`) {
		t.Errorf(";norefresh still refreshes")
	}
}
