package runtime

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"appl/proxy/maps"
)

func TestListenUnixModeStaleAndLive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "appl.sock")
	l, err := Listen(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want socket 0600", fi.Mode())
	}
	if l.Addr().String() != p {
		t.Fatalf("Addr %q, want %q", l.Addr(), p)
	}
	// a live socket is not stolen
	if _, err := Listen(p, 0o600); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	l.Close()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left the socket file: %v", err)
	}

	// a stale socket file (its process died) is replaced
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: p}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd) // bound, never listened: connect is refused, like a dead haproxy's
	l, err = Listen("unix@"+p, 0o660)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	fi, _ = os.Lstat(p)
	if fi.Mode().Perm() != 0o660 {
		t.Fatalf("mode %v, want 0660", fi.Mode().Perm())
	}
	// and it answers
	done := make(chan error, 1)
	go func() { done <- Serve(l, LevelUser, newFakeTarget(t), nil) }()
	if got := socat(t, p, "show cli level"); got != "user\n\n" {
		t.Fatalf("answer %q", got)
	}
	l.Close()
	<-done

	// a regular file is never removed
	reg := filepath.Join(dir, "file")
	os.WriteFile(reg, []byte("x"), 0o644)
	if _, err := Listen(reg, 0o600); err == nil {
		t.Fatal("Listen over a regular file succeeded")
	}
	if b, _ := os.ReadFile(reg); string(b) != "x" {
		t.Fatal("regular file was touched")
	}
}

func TestListenAddresses(t *testing.T) {
	l, err := Listen("ipv4@127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(l, LevelAdmin, newFakeTarget(t), nil) }()
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "show cli level\n")
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "admin\n\n" {
		t.Fatalf("tcp answer %q %v", b, err)
	}
	c.Close()
	l.Close()
	<-done

	if l6, err := Listen("ipv6@[::1]:0", 0); err == nil {
		if a := l6.Addr().(*net.TCPAddr); a.IP.To4() != nil {
			t.Errorf("ipv6@ listened on %v", a)
		}
		l6.Close()
	} else {
		t.Logf("no IPv6 loopback here: %v", err)
	}
	for _, bad := range []string{"", "abns@foo", "fd@3", "ipv4@127.0.0.1", "ipv4@127.0.0.1:99999", "nonsense"} {
		if l, err := Listen(bad, 0); err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded", bad)
		}
	}
}

func TestShowInfoStatServers(t *testing.T) {
	s := startSockets(t)
	if got := s.admin(t, "show info"); got != "Name: appl\nVersion: 0.1\nMaxconn: 1000\nHard_maxconn: 4000\n\n" {
		t.Fatalf("show info: %q", got)
	}

	got := s.admin(t, "show stat")
	lines := strings.Split(got, "\n")
	if !strings.HasPrefix(lines[0], "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,") ||
		!strings.HasSuffix(lines[0], ",h1_spliced_bytes_in,h1_spliced_bytes_out,") {
		t.Fatalf("header %q", lines[0])
	}
	ncol := strings.Count(lines[0], ",")
	if ncol != int(NumStatCols) {
		t.Fatalf("header has %d columns, want %d", ncol, NumStatCols)
	}
	// fe, s1, s2, be1, s3, be2, then the closing empty line
	if len(lines) != 1+6+2 || lines[7] != "" || lines[8] != "" {
		t.Fatalf("show stat lines: %q", lines)
	}
	for _, l := range lines[1:7] {
		if strings.Count(l, ",") != ncol {
			t.Fatalf("row %q has %d commas, want %d", l, strings.Count(l, ","), ncol)
		}
	}
	col := func(row string, c StatCol) string { return strings.Split(row, ",")[c] }
	if r := lines[1]; col(r, ColPxname) != "fe" || col(r, ColSvname) != "FRONTEND" || col(r, ColStatus) != "OPEN" || col(r, ColSlim) != "1000" || col(r, ColType) != "0" || col(r, ColQcur) != "" {
		t.Fatalf("frontend row %q", r)
	}
	if r := lines[2]; col(r, ColSvname) != "s1" || col(r, ColWeight) != "10" || col(r, ColStatus) != "UP" || col(r, ColIid) != "3" || col(r, ColSid) != "1" || col(r, ColAddr) != "127.0.0.1:47101" {
		t.Fatalf("server row %q", r)
	}
	// filters: only servers of iid 3
	got = s.admin(t, "show stat 3 4 -1")
	if n := strings.Count(got, "\n"); n != 1+2+1 || !strings.Contains(got, "\nbe1,s1,") || !strings.Contains(got, "\nbe1,s2,") {
		t.Fatalf("show stat 3 4 -1: %q", got)
	}
	got = s.admin(t, "show stat be2 2 -1")
	if strings.Count(got, "\n") != 3 || !strings.Contains(got, "\nbe2,BACKEND,") {
		t.Fatalf("show stat be2 2 -1: %q", got)
	}
	if got := s.admin(t, "show stat 1 2"); !strings.HasPrefix(got, "show stat: expects") {
		t.Fatalf("bad filter: %q", got)
	}
	if got := s.admin(t, "show stat json"); !strings.Contains(got, "not supported") {
		t.Fatalf("json: %q", got)
	}

	want := "1\n" + serversStateHeader + "\n" +
		"3 be1 1 s1 127.0.0.1 2 0 10 10 3 1 0 2 0 0 0 0 - 47101 - 0 0 - - 0\n" +
		"3 be1 2 s2 127.0.0.1 2 0 20 20 3 1 0 2 0 0 0 0 - 47102 - 0 0 - - 0\n\n"
	if got := s.admin(t, "show servers state be1"); got != want {
		t.Fatalf("show servers state be1:\n%q\nwant\n%q", got, want)
	}
	if got := s.admin(t, "show servers state"); strings.Count(got, "\n") != 6 || !strings.Contains(got, "\n4 be2 1 s3 ") {
		t.Fatalf("show servers state: %q", got)
	}
	if got := s.admin(t, "show servers state nope"); got != "Can't find backend.\n\n" {
		t.Fatalf("unknown backend: %q", got)
	}
}

func TestServerCommands(t *testing.T) {
	s := startSockets(t)
	ft := s.ft
	cases := []struct{ cmd, want string }{
		{"set server be1/s1 state maint", "\n"},
		{"set server be1/s1 state drain", "\n"},
		{"set server", "Require 'backend/server'.\n\n"},
		{"set server be1", "Require 'backend/server'.\n\n"},
		{"set server be1/zz state ready", "No such server.\n\n"},
		{"set server nope/s1 state ready", "No such backend.\n\n"},
		{"set server be1/s1", "usage: set server <backend>/<server> state | weight\n\n"},
		{"set server be1/s1 state", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"},
		{"set server be1/s1 state bogus", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"},
		{"set server be1/s1 addr 1.2.3.4", "'set server <srv> addr' is not supported by appl yet.\n\n"},
		{"set server be1/s1 weight", "Require <weight> or <weight%>.\n\n"},
		{"set server be1/s1 weight abc", "Empty weight string empty or preceded by garbage\n\n"},
		{"set server be1/s1 weight 300", "Absolute weight can only be between 0 and 256 inclusive.\n\n"},
		{"set server be1/s1 weight -1", "Absolute weight can only be between 0 and 256 inclusive.\n\n"},
		{"set server be1/s1 weight 5x", "Trailing garbage in weight string\n\n"},
		{"set server be1/s1 weight -5%", "Relative weight must be positive.\n\n"},
		{"set server be1/zz weight 5", "No such server.\n\n"},
	}
	for _, c := range cases {
		if got := s.admin(t, c.cmd); got != c.want {
			t.Errorf("%q: got %q, want %q", c.cmd, got, c.want)
		}
	}
	if st := ft.backends[0].servers[0].state; st != StateDrain {
		t.Fatalf("s1 state %v, want drain", st)
	}
	if got := s.admin(t, "show stat 3 4 1"); !strings.Contains(got, ",DRAIN,") {
		t.Fatalf("drain not in show stat: %q", got)
	}
	if got := s.admin(t, "show servers state be1"); !strings.Contains(got, "\n3 be1 1 s1 127.0.0.1 2 8 ") {
		t.Fatalf("drain admin bit: %q", got)
	}
	s.admin(t, "disable server be1/s1")
	if ft.backends[0].servers[0].state != StateMaint {
		t.Fatal("disable server did not set maint")
	}
	s.admin(t, "enable server be1/s1")
	if ft.backends[0].servers[0].state != StateReady {
		t.Fatal("enable server did not set ready")
	}
	for _, c := range []struct{ cmd, want string }{
		{"enable server", "Require 'backend/server'.\n\n"},
		{"enable server be1/zz", "No such server.\n\n"},
		{"disable server nope/s1", "No such backend.\n\n"},
	} {
		if got := s.admin(t, c.cmd); got != c.want {
			t.Errorf("%q: got %q, want %q", c.cmd, got, c.want)
		}
	}

	if got := s.admin(t, "set server be1/s1 weight 5; get weight be1/s1"); got != "\n5 (initial 10)\n\n" {
		t.Fatalf("weight 5: %q", got)
	}
	if got := s.admin(t, "set server be1/s2 weight 50%;get weight be1/s2"); got != "\n10 (initial 20)\n\n" {
		t.Fatalf("weight 50%%: %q", got)
	}
	if got := s.admin(t, "set weight be1/s1 7;get weight be1/s1;get weight be1/zz;get weight nope/x;get weight"); got != "\n7 (initial 10)\n\nNo such server.\n\nNo such backend.\n\nRequire 'backend/server'.\n\n" {
		t.Fatalf("set/get weight: %q", got)
	}
}

func TestFrontendAndMaxconn(t *testing.T) {
	s := startSockets(t)
	cases := []struct{ cmd, want string }{
		{"enable frontend", "A frontend name is expected.\n\n"},
		{"enable frontend nope", "No such frontend.\n\n"},
		{"disable frontend fe", "\n"},
		{"disable frontend fe", "All sockets are already disabled.\n\n"},
		{"enable frontend fe", "\n"},
		{"enable frontend fe", "All sockets are already enabled.\n\n"},
		{"set maxconn frontend", "A frontend name is expected.\n\n"},
		{"set maxconn frontend nope 1", "No such frontend.\n\n"},
		{"set maxconn frontend fe", "Integer value expected.\n\n"},
		{"set maxconn frontend fe abc", "Integer value expected.\n\n"},
		{"set maxconn frontend fe -3", "Value out of range.\n\n"},
		{"set maxconn frontend fe 99999999999999999999", "Value out of range.\n\n"},
		{"set maxconn frontend fe 50", "\n"},
		{"set maxconn global", "Expects an integer value.\n\n"},
		{"set maxconn global abc", "Expects an integer value.\n\n"},
		{"set maxconn global 99999999", "Value out of range.\n\n"},
		{"set maxconn global 500", "\n"},
	}
	for _, c := range cases {
		if got := s.admin(t, c.cmd); got != c.want {
			t.Errorf("%q: got %q, want %q", c.cmd, got, c.want)
		}
	}
	if fe := s.ft.frontends[0]; fe.maxconn != 50 || !fe.enabled {
		t.Fatalf("frontend %+v", *fe)
	}
	if got := s.admin(t, "show info"); !strings.Contains(got, "\nMaxconn: 500\n") {
		t.Fatalf("global maxconn not applied: %q", got)
	}
	if got := s.admin(t, "set maxconn"); !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n  set maxconn frontend <frontend> <value> : change a frontend's maxconn setting\n  set maxconn global <value>              : change the per-process maxconn setting\n  help [<command>]") {
		t.Fatalf("set maxconn: %q", got)
	}
}

func TestSessions(t *testing.T) {
	s := startSockets(t)
	want := "0x1a2b: proto=tcpv4 src=127.0.0.1:40000 fe=fe be=be1 srv=s1 age=1m15s bytes_in=10 bytes_out=20\n" +
		"0x3c4d: proto=tcpv4 src=127.0.0.2:40001 fe=fe be=<NONE> srv=<none> age=1s bytes_in=0 bytes_out=0\n\n"
	if got := s.admin(t, "show sess"); got != want {
		t.Fatalf("show sess:\n%q\nwant\n%q", got, want)
	}
	if got := s.admin(t, "show sess 0x3c4d"); got != "0x3c4d: proto=tcpv4 src=127.0.0.2:40001 fe=fe be=<NONE> srv=<none> age=1s bytes_in=0 bytes_out=0\n\n" {
		t.Fatalf("show sess id: %q", got)
	}
	for _, c := range []struct{ cmd, want string }{
		{"show sess 0x1234", "Session not found.\n\n"},
		{"shutdown session", "Session pointer expected (use 'show sess').\n\n"},
		{"shutdown session abc", "Session pointer expected (use 'show sess').\n\n"},
		{"shutdown session 0x1234", "No such session (use 'show sess').\n\n"},
		{"shutdown session 0x1a2b", "\n"},
		{"shutdown session 0x1a2b", "No such session (use 'show sess').\n\n"},
	} {
		if got := s.admin(t, c.cmd); got != c.want {
			t.Errorf("%q: got %q, want %q", c.cmd, got, c.want)
		}
	}
	if n := len(s.ft.Sessions()); n != 1 {
		t.Fatalf("%d sessions left, want 1", n)
	}
}

func TestTableCommands(t *testing.T) {
	s := startSockets(t)
	op := s.path[LevelOperator]
	if got := s.admin(t, "show table"); got != "# table: be1, type: ip, size:100, used:0\n# table: st, type: string, size:10, used:0\n\n" {
		t.Fatalf("show table: %q", got)
	}
	if got := socat(t, op, "set table be1 key 1.1.1.1 data.conn_cnt 3"); got != "\n" {
		t.Fatalf("set table: %q", got)
	}
	got := socat(t, op, "show table be1")
	if !regexp.MustCompile(`^# table: be1, type: ip, size:100, used:1\n0x[0-9a-f]+: key=1\.1\.1\.1 use=0 exp=[0-9]+ server_id=0 conn_cnt=3 conn_rate\(10000\)=0\n\n$`).MatchString(got) {
		t.Fatalf("show table be1: %q", got)
	}
	// the user level sees the header only, like HAProxy
	if got := socat(t, s.path[LevelUser], "show table be1"); got != "# table: be1, type: ip, size:100, used:1\n# contents not dumped due to insufficient privileges\n\n" {
		t.Fatalf("user show table: %q", got)
	}
	socat(t, op, "set table be1 key 2.2.2.2 data.conn_cnt 10")
	if got := socat(t, op, "show table be1 data.conn_cnt gt 5"); !strings.Contains(got, "key=2.2.2.2") || strings.Contains(got, "key=1.1.1.1") {
		t.Fatalf("filter: %q", got)
	}
	if got := socat(t, op, "show table be1 key 1.1.1.1"); !strings.Contains(got, "key=1.1.1.1") || strings.Contains(got, "key=2.2.2.2") {
		t.Fatalf("key filter: %q", got)
	}
	for _, c := range []struct{ cmd, want string }{
		{"show table nope", "No such table\n\n"},
		{"show table be1 junk", "Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>\n\n"},
		{"show table be1 data.gpc0 gt 1", "Filter entry #1: Data type not stored in this table\n\n"},
		{"clear table", clearTableUsage + "\n\n"},
		{"clear table nope", "No such table\n\n"},
		{"clear table be1 junk", clearTableUsage + "\n\n"},
		{"set table", "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n\n"},
		{"set table nope key 1", "No such table\n\n"},
		{"set table be1 key 1.1.1.1 data.conn_cnt", "Require a valid integer value to store\n\n"},
		{"set table be1 key not-an-ip data.conn_cnt 1", "Invalid key\n\n"},
		{"set table st key abc data.gpc0 7", "\n"},
		{"clear table be1 key 1.1.1.1", "\n"},
	} {
		if got := socat(t, op, c.cmd); got != c.want {
			t.Errorf("%q: got %q, want %q", c.cmd, got, c.want)
		}
	}
	be1 := s.ft.tables[0]
	if be1.Len() != 1 {
		t.Fatalf("be1 has %d entries after clear key, want 1", be1.Len())
	}
	if got := socat(t, op, "show table st"); !strings.Contains(got, "key=abc ") || !strings.Contains(got, "gpc0=7") {
		t.Fatalf("string table: %q", got)
	}
	socat(t, op, "clear table be1")
	if be1.Len() != 0 {
		t.Fatalf("clear table left %d entries", be1.Len())
	}
	// a key with a space and a ';' goes through escapes
	if got := socat(t, op, `set table st key a\ b\;c data.gpc0 1`); got != "\n" {
		t.Fatalf("escaped key: %q", got)
	}
	k, _ := s.ft.tables[1].ParseKey("a b;c")
	if s.ft.tables[1].Lookup(k) == nil {
		t.Fatal("escaped key not stored as 'a b;c'")
	}
}

func TestMapAndACLCommands(t *testing.T) {
	s := startSockets(t)
	M, L := s.ft.mapPath(), s.ft.aclPath()
	op := s.path[LevelOperator]
	got := s.admin(t, "show map")
	want := "# id (file) description\n1 (" + M + ") pattern loaded from file '" + M + "' used by map at file 'appl.cfg' line 14. curr_ver=0 next_ver=0 entry_cnt=2\n\n"
	if got != want {
		t.Fatalf("show map:\n%q\nwant\n%q", got, want)
	}
	if got := s.admin(t, "show acl"); !strings.HasPrefix(got, "# id (file) description\n0 ("+L+") pattern loaded from file '"+L+"' used by acl at file 'appl.cfg' line 13. curr_ver=0 next_ver=0 entry_cnt=2\n") {
		t.Fatalf("show acl: %q", got)
	}
	if got := s.admin(t, "show map "+M); got != "0x1 10.0.0.0/8 be1\n0x2 192.168.1.1 be2\n\n" {
		t.Fatalf("show map M: %q", got)
	}
	if got := s.admin(t, "show map #1"); got != "0x1 10.0.0.0/8 be1\n0x2 192.168.1.1 be2\n\n" {
		t.Fatalf("show map #1: %q", got)
	}
	for _, c := range []struct{ cmd, want string }{
		{"show map #0", "Unknown map identifier. Please use #<id> or <file>.\n\n"}, // #0 is the ACL file
		{"show map nope", "Unknown map identifier. Please use #<id> or <file>.\n\n"},
		{"show acl nope", "Unknown ACL identifier. Please use #<id> or <file>.\n\n"},
		{"get map " + M + " 10.2.3.4", "type=ip, case=sensitive, found=yes, idx=tree, key=\"10.0.0.0/8\", value=\"be1\", type=\"str\"\n\n"},
		{"get map " + M + " 1.1.1.1", "type=ip, case=sensitive, found=no\n\n"},
		{"get map " + M + " not-an-ip", "type=ip, case=sensitive, found=no\n\n"},
		{"get map", "Missing map identifier and/or key.\n\n"},
		{"get map " + M, "Missing map identifier and/or key.\n\n"},
		{"get acl " + L + " 10.1.2.3", "type=ip, case=sensitive, match=yes, idx=tree, pattern=\"10.1.0.0/16\"\n\n"},
		{"get acl #0 8.8.8.8", "type=ip, case=sensitive, match=no\n\n"},
		{"add map " + M, "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n\n"},
		{"add map " + M + " k", "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n\n"},
		{"add map nope k v", "Unknown map identifier. Please use #<id> or <file>.\n\n"},
		{"add map " + M + " 1.2.3.4 be2", "\n"},
		{"set map " + M + " 1.2.3.4 be1", "\n"},
		{"set map " + M + " 9.9.9.9 be1", "entry not found.\n\n"},
		{"set map " + M, "'set map' expects three parameters: map identifier, key and value.\n\n"},
		{"set map " + M + " #0x99 x", "key or pattern not found.\n\n"},
		{"set map " + M + " #0x2 be9", "\n"},
		{"del map " + M, "This command expects two parameters: map identifier and key.\n\n"},
		{"del map " + M + " #0xdead", "Key not found.\n\n"},
		{"del map " + M + " 5.5.5.5", "Key not found.\n\n"},
		{"clear map", "Missing map identifier.\n\n"},
		{"clear map nope", "Unknown map identifier. Please use #<id> or <file>.\n\n"},
		{"add acl " + L, "'add acl' expects two parameters: ACL identifier and pattern.\n\n"},
		{"add acl " + L + " 5.5.5.5", "\n"},
		{"del acl " + L, "This command expects two parameters: ACL identifier and key.\n\n"},
		{"del acl " + L + " 5.5.5.5", "\n"},
		{"del acl " + L + " 5.5.5.5", "Key not found.\n\n"},
		{"add map " + L + " k v", "Unknown map identifier. Please use #<id> or <file>.\n\n"}, // an ACL file is not a map
	} {
		if got := socat(t, op, c.cmd); got != c.want {
			t.Errorf("%q: got %q, want %q", c.cmd, got, c.want)
		}
	}
	if got := s.admin(t, "show map "+M+";get map "+M+" 1.2.3.4"); got != "0x1 10.0.0.0/8 be1\n0x2 192.168.1.1 be9\n0x3 1.2.3.4 be1\n\ntype=ip, case=sensitive, found=yes, idx=tree, key=\"1.2.3.4\", value=\"be1\", type=\"str\"\n\n" {
		t.Fatalf("after edits: %q", got)
	}
	// an invalid key for an ip map is refused with the reason
	if got := socat(t, op, "add map "+M+" bad-ip be2"); got == "\n" || !strings.HasSuffix(got, "\n\n") || strings.Count(got, "\n") != 2 {
		t.Fatalf("invalid ip key: %q", got)
	}
	if got := socat(t, op, "del map "+M+" 1.2.3.4;del map "+M+" #0x1"); got != "\n\n" {
		t.Fatalf("del map: %q", got)
	}
	if got := s.admin(t, "show map "+M); got != "0x2 192.168.1.1 be9\n\n" {
		t.Fatalf("after del: %q", got)
	}
	socat(t, op, "clear map #1;clear acl "+L)
	if got := s.admin(t, "show map #1;show acl #0"); got != "\n\n" {
		t.Fatalf("after clear: %q", got)
	}
	// the data plane's index sees the edits at once
	socat(t, op, `add map #1 10.9.0.0/16 be2`)
	if got := s.admin(t, "get map #1 10.9.1.1"); !strings.Contains(got, `value="be2"`) {
		t.Fatalf("lookup after add: %q", got)
	}
}

func TestLevels(t *testing.T) {
	s := startSockets(t)
	M, L := s.ft.mapPath(), s.ft.aclPath()
	socat(t, s.path[LevelAdmin], "set table be1 key 1.1.1.1 data.conn_cnt 3")
	operatorCmds := []string{
		"set table be1 key 2.2.2.2 data.conn_cnt 1", "clear table be1", "clear table be1 key 1.1.1.1",
		"add map " + M + " 1.1.1.1 x", "set map " + M + " 10.0.0.0/8 x", "del map " + M + " 10.0.0.0/8", "clear map " + M,
		"add acl " + L + " 1.1.1.1", "del acl " + L + " 127.0.0.1", "clear acl " + L, "show sess",
	}
	adminCmds := []string{
		"set server be1/s1 state maint", "set server be1/s1 weight 1", "set weight be1/s1 1",
		"enable server be1/s2", "disable server be1/s1", "enable frontend fe", "disable frontend fe",
		"set maxconn frontend fe 1", "set maxconn global 1", "shutdown session 0x1a2b",
	}
	snapshot := func() string {
		tbl := socat(t, s.path[LevelAdmin], "show table be1")
		tbl = regexp.MustCompile(`exp=[0-9]+`).ReplaceAllString(tbl, "exp=") // counts down
		return s.admin(t, "show stat;show servers state;show map "+M+";show acl "+L+";show info;show sess") + tbl
	}
	before := snapshot()
	for _, c := range append(operatorCmds, adminCmds...) {
		if got := socat(t, s.path[LevelUser], c); got != "Permission denied\n\n" {
			t.Errorf("user %q: %q", c, got)
		}
	}
	for _, c := range adminCmds {
		if got := socat(t, s.path[LevelOperator], c); got != "Permission denied\n\n" {
			t.Errorf("operator %q: %q", c, got)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("refused commands changed state:\n%s\n---\n%s", before, after)
	}
	// reads stay open to user
	for _, c := range []string{"show info", "show stat", "show servers state", "show map", "show acl", "get map " + M + " 10.1.1.1", "get weight be1/s1", "show table", "help"} {
		if got := socat(t, s.path[LevelUser], c); strings.HasPrefix(got, "Permission denied") || !strings.HasSuffix(got, "\n\n") {
			t.Errorf("user %q: %q", c, got)
		}
	}
	// the operator can do operator things
	if got := socat(t, s.path[LevelOperator], "add map "+M+" 1.1.1.1 x"); got != "\n" {
		t.Fatalf("operator add map: %q", got)
	}
	// levels only go down within a session
	if got := socat(t, s.path[LevelAdmin], "operator;show cli level;set maxconn global 1;user;show cli level;show sess"); got != "\noperator\n\nPermission denied\n\n\nuser\n\nPermission denied\n\n" {
		t.Fatalf("lowering: %q", got)
	}
	if got := socat(t, s.path[LevelUser], "operator;show cli level"); got != "\nuser\n\n" {
		t.Fatalf("raising: %q", got)
	}
}

func TestPromptMode(t *testing.T) {
	s := startSockets(t)
	c, err := net.Dial("unix", s.path[LevelAdmin])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	io.WriteString(c, "prompt\n")
	if got := readUntil(t, r, "> "); got != "\n> " {
		t.Fatalf("after prompt: %q", got)
	}
	io.WriteString(c, "show cli level\n")
	if got := readUntil(t, r, "> "); got != "admin\n\n> " {
		t.Fatalf("interactive answer: %q", got)
	}
	io.WriteString(c, "get weight be1/s1;show cli level\n")
	if got := readUntil(t, r, "\n> "); got != "10 (initial 10)\n\n> " {
		t.Fatalf("first of chain: %q", got)
	}
	if got := readUntil(t, r, "\n> "); got != "admin\n\n> " {
		t.Fatalf("second of chain: %q", got)
	}
	// the connection stays open across commands that arrive separately
	for i := range 3 {
		io.WriteString(c, "show cli level\n")
		if got := readUntil(t, r, "> "); got != "admin\n\n> " {
			t.Fatalf("round %d: %q", i, got)
		}
	}
	// prompt again turns it off: the rest of the line is answered, then close
	io.WriteString(c, "prompt;show cli level\n")
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "\nadmin\n\n" {
		t.Fatalf("leaving prompt: %q %v", rest, err)
	}

	// quit closes at once, in the middle of a line too
	c2, _ := net.Dial("unix", s.path[LevelAdmin])
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c2, "prompt\nshow cli level;quit;show info\n")
	got, err := io.ReadAll(c2)
	if err != nil || string(got) != "\n> admin\n\n> " {
		t.Fatalf("quit: %q %v", got, err)
	}
}

func TestOneLinePerConnection(t *testing.T) {
	s := startSockets(t)
	// a client that never closes its side still gets an answer and EOF
	c, err := net.Dial("unix", s.path[LevelAdmin])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "show cli level\n")
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "admin\n\n" {
		t.Fatalf("got %q %v", got, err)
	}
	// lines that arrive together are all answered (as HAProxy does)
	if got := s.admin(t, "show cli level\nget weight be1/s1"); got != "admin\n\n10 (initial 10)\n\n" {
		t.Fatalf("two lines: %q", got)
	}
	// a last line without newline is answered too (printf 'cmd' | socat)
	c3, _ := net.Dial("unix", s.path[LevelAdmin])
	defer c3.Close()
	c3.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c3, "show cli level")
	c3.(*net.UnixConn).CloseWrite()
	if got, _ := io.ReadAll(c3); string(got) != "admin\n\n" {
		t.Fatalf("unterminated line: %q", got)
	}
	// CRLF from a telnet-like client
	if got := s.admin(t, "show cli level\r"); got != "admin\n\n" {
		t.Fatalf("crlf: %q", got)
	}
}

func TestUnknownAndMalformed(t *testing.T) {
	s := startSockets(t)
	got := s.admin(t, "foo")
	if !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n") ||
		!strings.HasSuffix(got, "  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n\n") {
		t.Fatalf("foo: %q", got)
	}
	if got := s.admin(t, "shw stat"); !strings.Contains(got, "\n  show stat [no-maint|up]*                : report counters for each proxy and server\n") {
		t.Fatalf("shw stat suggestions: %q", got)
	}
	got = s.admin(t, "show")
	if !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n  show acl") || strings.Contains(got, "set server") {
		t.Fatalf("show: %q", got)
	}
	if got := s.admin(t, ""); !strings.HasPrefix(got, "Unknown command. Please enter one of the following commands only:\n  add acl <acl> <pattern>") {
		t.Fatalf("empty: %q", got)
	}
	got = s.admin(t, "help")
	if !strings.HasPrefix(got, "The following commands are valid at this level:\n") {
		t.Fatalf("help: %q", got)
	}
	for _, c := range commands {
		if !strings.Contains(got, "\n"+strings.TrimRight(c.helpLine(), "\n")+"\n") {
			t.Errorf("help lacks %q", c.usage)
		}
	}
	if got := s.admin(t, "help set maxconn"); got != "The following commands are valid at this level:\n  set maxconn frontend <frontend> <value> : change a frontend's maxconn setting\n  set maxconn global <value>              : change the per-process maxconn setting\n  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n\n" {
		t.Fatalf("help set maxconn: %q", got)
	}
	// too many words
	if got := s.admin(t, "show"+strings.Repeat(" x", 70)); got != "Too many arguments (at most 64).\n\n" {
		t.Fatalf("many args: %q", got)
	}
	// an overlong line is refused and the connection closed
	if got := s.admin(t, "show info "+strings.Repeat("x", MaxLine+10)); got != "Command line too long (at most 16384 bytes).\n\n" {
		t.Fatalf("long line: %q", got)
	}
	// binary junk gets an answer, not a crash
	if got := s.admin(t, "\x00\xff\x01;;;\\"); !strings.HasPrefix(got, "Unknown command") {
		t.Fatalf("junk: %q", got)
	}
	// a panicking target is answered and the server keeps serving
	s.ft.panicInfo.Store(true)
	if got := s.admin(t, "show info;show cli level"); got != "Internal error: the command failed (see the log).\n\nadmin\n\n" {
		t.Fatalf("panic: %q", got)
	}
	s.ft.panicInfo.Store(false)
	if got := s.admin(t, "show cli level"); got != "admin\n\n" {
		t.Fatalf("after panic: %q", got)
	}
}

func TestIdleTimeoutAndClose(t *testing.T) {
	ft := newFakeTarget(t)
	srv := NewServer(ft, nil)
	srv.Timeout = 200 * time.Millisecond
	p := filepath.Join(t.TempDir(), "s.sock")
	l, err := Listen(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l, LevelAdmin) }()
	c, err := net.Dial("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) // bound: the server must close well before
	start := time.Now()
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("idle connection: %q %v", b, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("idle connection closed after %v", d)
	}
	// Close ends Serve, open connections and removes the socket file
	c2, _ := net.Dial("unix", p)
	defer c2.Close()
	io.WriteString(c2, "prompt\n")
	c2.SetDeadline(time.Now().Add(5 * time.Second))
	readUntil(t, bufio.NewReader(c2), "> ")
	srv.Close()
	if err := <-done; err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left: %v", err)
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		line string
		cmds []string
	}{
		{"show info;show stat", []string{"show info", "show stat"}},
		{`a\;b;c`, []string{`a\;b`, "c"}},
		{`a\\;b`, []string{`a\\`, "b"}},
		{";", []string{"", ""}},
		{`x\`, []string{`x\`}},
	} {
		if got := SplitCommands(c.line); strings.Join(got, "|") != strings.Join(c.cmds, "|") || len(got) != len(c.cmds) {
			t.Errorf("SplitCommands(%q) = %q, want %q", c.line, got, c.cmds)
		}
	}
	for _, c := range []struct {
		cmd   string
		words []string
	}{
		{"  set  map\tm k v ", []string{"set", "map", "m", "k", "v"}},
		{`a\ b c`, []string{"a b", "c"}},
		{`a\;b`, []string{"a;b"}},
		{`a\\b`, []string{`a\b`}},
		{`a\`, []string{"a"}},
		{`\ `, []string{" "}},
		{"", nil},
	} {
		got, err := SplitWords(c.cmd)
		if err != nil || strings.Join(got, "|") != strings.Join(c.words, "|") || len(got) != len(c.words) {
			t.Errorf("SplitWords(%q) = %q %v, want %q", c.cmd, got, err, c.words)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range []Level{LevelUser, LevelOperator, LevelAdmin} {
		if got, err := ParseLevel(l.String()); err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v %v", l, got, err)
		}
	}
	if _, err := ParseLevel("root"); err == nil {
		t.Error("ParseLevel(root) succeeded")
	}
}

// TestSeedAddMap is seed 000's addmap step: an operator adds a route to the
// map the frontend uses (`use_backend %[dst,map_ip(./map,not_found)]`),
// written relative as in the config; the data plane's index sees it at once.
func TestSeedAddMap(t *testing.T) {
	s := startSockets(t)
	r := s.ft.store.Create("./map", true)
	idx, err := r.Index(maps.IP, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := idx.Lookup("127.0.0.1"); ok {
		t.Fatal("empty map matched")
	}
	if got := socat(t, s.path[LevelAdmin], "add map ./map 127.0.0.1 ft_group;add map ./map 127.0.0.2 frontend_group"); got != "\n\n" {
		t.Fatalf("add map: %q", got)
	}
	if e, ok := idx.Lookup("127.0.0.1"); !ok || e.Value != "ft_group" {
		t.Fatalf("lookup after add: %+v %v", e, ok)
	}
	if got := socat(t, s.path[LevelUser], "show map ./map"); got != "0x1 127.0.0.1 ft_group\n0x2 127.0.0.2 frontend_group\n\n" {
		t.Fatalf("show map: %q", got)
	}
}

func TestListenOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	p := filepath.Join(t.TempDir(), "owned.sock")
	l, err := ListenWith(p, SocketOptions{Mode: 0o660, UID: 65534, GID: 65534})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65534 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("owner %d:%d mode %v", st.Uid, st.Gid, fi.Mode().Perm())
	}
}

// Intercept answers the commands it takes (with the usual empty-line terminator) and
// leaves every other command to the server.
func TestIntercept(t *testing.T) {
	srv := NewServer(newFakeTarget(t), nil)
	var seen []string
	srv.Intercept = func(level Level, args []string) (string, bool) {
		seen = append(seen, level.String()+":"+strings.Join(args, " "))
		if args[0] == "add" {
			return "taken\n", true
		}
		return "", false
	}
	if got := srv.Exec(LevelOperator, "add map x k v; show cli level"); got != "taken\n\noperator\n\n" {
		t.Fatalf("answer %q", got)
	}
	if strings.Join(seen, "|") != "operator:add map x k v|operator:show cli level" {
		t.Fatalf("intercept saw %q", seen)
	}
}
