package runtime

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"appl/proxy/stats"
	"appl/proxy/stick"
)

func cmdShowInfo(x *execCtx, args []string) {
	for _, a := range args[2:] {
		switch a {
		case "desc", "float":
		case "json", "typed":
			x.fail("show info: the '" + a + "' format is not supported; use the plain format.")
			return
		default:
			// HAProxy ignores unknown words here; so do we.
		}
	}
	for _, f := range x.t.Info() {
		x.line(oneLine(f.Name + ": " + f.Value))
	}
}

// statFilter is `show stat [{<iid>|<proxy>} <type> <sid>] [up|no-maint]`.
type statFilter struct {
	proxy   string // "" = any
	iid     int    // -1 = any
	types   int    // bits 1 frontend, 2 backend, 4 server; -1 = all
	sid     int    // -1 = any
	up      bool
	noMaint bool
}

func parseStatFilter(args []string) (statFilter, error) {
	f := statFilter{iid: -1, types: -1, sid: -1}
	var pos []string
	for _, a := range args {
		switch a {
		case "up":
			f.up = true
		case "no-maint":
			f.noMaint = true
		case "desc":
		case "json", "typed":
			return f, errors.New("show stat: the '" + a + "' format is not supported; use the CSV format.")
		default:
			pos = append(pos, a)
		}
	}
	switch len(pos) {
	case 0:
		return f, nil
	case 3:
	default:
		return f, errors.New("show stat: expects a proxy name or iid, a type and a server id (-1 for any), e.g. 'show stat -1 4 -1'.")
	}
	if n, err := strconv.Atoi(pos[0]); err == nil {
		f.iid = n
	} else {
		f.proxy = pos[0]
	}
	var err error
	if f.types, err = strconv.Atoi(pos[1]); err != nil {
		return f, errors.New("show stat: the type must be an integer: 1 frontends, 2 backends, 4 servers, -1 all.")
	}
	if f.sid, err = strconv.Atoi(pos[2]); err != nil {
		return f, errors.New("show stat: the server id must be an integer (-1 for any).")
	}
	return f, nil
}

func (f *statFilter) keep(r *StatRow) bool {
	if f.proxy != "" && r.Get(ColPxname) != f.proxy {
		return false
	}
	if f.iid > 0 && r.ProxyID != f.iid {
		return false
	}
	if f.types != -1 {
		bit := 0
		switch r.Type {
		case TypeFrontend:
			bit = 1
		case TypeBackend:
			bit = 2
		case TypeServer:
			bit = 4
		case TypeListener:
			bit = 8
		}
		if f.types&bit == 0 {
			return false
		}
	}
	if r.Type == TypeServer {
		if f.sid != -1 && r.ServerID != f.sid {
			return false
		}
		st := r.Get(ColStatus)
		if f.up && !strings.HasPrefix(st, "UP") {
			return false
		}
		if f.noMaint && strings.Contains(st, "MAINT") {
			return false
		}
	}
	return true
}

func cmdShowStat(x *execCtx, args []string) {
	f, err := parseStatFilter(args[2:])
	if err != nil {
		x.failErr(err)
		return
	}
	buf := stats.AppendCSVHeader(nil)
	for _, r := range x.t.Stats() {
		if f.keep(&r) {
			buf = r.AppendCSV(buf)
		}
	}
	x.w.Write(buf)
}

const serversStateHeader = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

func dash(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n") {
		return "-"
	}
	return s
}

func cmdServersState(x *execCtx, args []string) {
	be := ""
	if len(args) > 3 {
		be = args[3]
	}
	rows, err := x.t.ServersState(be)
	if errors.Is(err, ErrNoBackend) {
		x.fail("Can't find backend.")
		return
	}
	if err != nil {
		x.failErr(err)
		return
	}
	x.line("1")
	x.line(serversStateHeader)
	for _, s := range rows {
		ssl := 0
		if s.UseSSL {
			ssl = 1
		}
		x.printf("%d %s %d %s %s %d %d %d %d %d %d %d %d %d %d 0 0 %s %d - %d %d %s %s %d\n",
			s.BackendID, dash(s.Backend), s.ServerID, dash(s.Server), dash(s.Addr),
			s.OpState, s.AdminState, s.UWeight, s.IWeight, int64(s.LastChange/time.Second),
			s.CheckStatus, s.CheckResult, s.CheckHealth, s.CheckState, s.AgentState,
			dash(s.FQDN), s.Port, ssl, s.CheckPort, dash(s.CheckAddr), dash(s.AgentAddr), s.AgentPort)
	}
}

// splitServer reads "backend/server".
func splitServer(x *execCtx, args []string, i int) (be, srv string, ok bool) {
	if len(args) <= i {
		x.fail("Require 'backend/server'.")
		return "", "", false
	}
	be, srv, found := strings.Cut(args[i], "/")
	if !found || be == "" || srv == "" {
		x.fail("Require 'backend/server'.")
		return "", "", false
	}
	return be, srv, true
}

// findServer returns the server's state, answering the error if none.
func findServer(x *execCtx, be, srv string) (ServerState, bool) {
	rows, err := x.t.ServersState(be)
	if err != nil {
		x.failErr(err)
		return ServerState{}, false
	}
	for _, r := range rows {
		if r.Server == srv {
			return r, true
		}
	}
	x.failErr(ErrNoServer)
	return ServerState{}, false
}

var unsupportedServerOpts = map[string]bool{"addr": true, "agent": true, "agent-addr": true, "agent-port": true,
	"agent-send": true, "check-addr": true, "check-port": true, "fqdn": true, "health": true, "ssl": true}

func cmdSetServer(x *execCtx, args []string) {
	be, srv, ok := splitServer(x, args, 2)
	if !ok {
		return
	}
	opt := ""
	if len(args) > 3 {
		opt = args[3]
	}
	switch {
	case opt == "state":
		var st AdminState
		if len(args) > 4 {
			switch args[4] {
			case "ready":
				st = StateReady
			case "drain":
				st = StateDrain
			case "maint":
				st = StateMaint
			}
		}
		if st == 0 {
			x.fail("'set server <srv> state' expects 'ready', 'drain' and 'maint'.")
			return
		}
		if err := x.t.SetServerState(be, srv, st); err != nil {
			x.failErr(err)
		}
	case opt == "weight":
		setWeight(x, be, srv, args[4:])
	case unsupportedServerOpts[opt]:
		x.fail("'set server <srv> " + opt + "' is not supported by appl yet.")
	default:
		x.fail("usage: set server <backend>/<server> state | weight")
	}
}

func cmdSetWeight(x *execCtx, args []string) {
	be, srv, ok := splitServer(x, args, 2)
	if !ok {
		return
	}
	setWeight(x, be, srv, args[3:])
}

// setWeight applies "W" or "W%" (of the initial weight) as HAProxy's
// server_parse_weight_change_request does.
func setWeight(x *execCtx, be, srv string, rest []string) {
	s, ok := findServer(x, be, srv)
	if !ok {
		return
	}
	if len(rest) == 0 || rest[0] == "" {
		x.fail("Require <weight> or <weight%>.")
		return
	}
	ws := rest[0]
	digits := ws
	if strings.HasPrefix(digits, "-") || strings.HasPrefix(digits, "+") {
		digits = digits[1:]
	}
	n := 0
	for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	if n == 0 {
		x.fail("Empty weight string empty or preceded by garbage")
		return
	}
	if n > 9 {
		n = 9 // saturate huge numbers instead of overflowing
	}
	v, _ := strconv.Atoi(digits[:n])
	if ws[0] == '-' {
		v = -v
	}
	suffix := digits[n:]
	for len(suffix) > 0 && suffix[0] >= '0' && suffix[0] <= '9' {
		suffix = suffix[1:]
	}
	switch {
	case suffix == "%":
		if v < 0 {
			x.fail("Relative weight must be positive.")
			return
		}
		v = min(v, 25600)
		v = min(s.IWeight*v/100, 256)
	case v < 0 || v > 256:
		x.fail("Absolute weight can only be between 0 and 256 inclusive.")
		return
	case suffix != "":
		x.fail("Trailing garbage in weight string")
		return
	}
	if err := x.t.SetServerWeight(be, srv, v); err != nil {
		x.failErr(err)
	}
}

func cmdGetWeight(x *execCtx, args []string) {
	be, srv, ok := splitServer(x, args, 2)
	if !ok {
		return
	}
	if s, ok := findServer(x, be, srv); ok {
		x.printf("%d (initial %d)\n", s.UWeight, s.IWeight)
	}
}

func cmdEnableServer(x *execCtx, args []string)  { serverState(x, args, StateReady) }
func cmdDisableServer(x *execCtx, args []string) { serverState(x, args, StateMaint) }

func serverState(x *execCtx, args []string, st AdminState) {
	be, srv, ok := splitServer(x, args, 2)
	if !ok {
		return
	}
	if err := x.t.SetServerState(be, srv, st); err != nil {
		x.failErr(err)
	}
}

func cmdEnableFrontend(x *execCtx, args []string) {
	if len(args) < 3 || args[2] == "" {
		x.fail("A frontend name is expected.")
		return
	}
	if err := x.t.EnableFrontend(args[2]); err != nil {
		x.failErr(err)
	}
}

func cmdDisableFrontend(x *execCtx, args []string) {
	if len(args) < 3 || args[2] == "" {
		x.fail("A frontend name is expected.")
		return
	}
	if err := x.t.DisableFrontend(args[2]); err != nil {
		x.failErr(err)
	}
}

// parseCount reads a non-negative int for maxconn (HAProxy takes atoi's
// 0 for garbage silently; appl says so instead).
func parseCount(x *execCtx, s, missing string) (int, bool) {
	if s == "" {
		x.fail(missing)
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			x.failErr(ErrOutOfRange)
			return 0, false
		}
		x.fail(missing)
		return 0, false
	}
	if v < 0 || v > 1<<31-1 {
		x.failErr(ErrOutOfRange)
		return 0, false
	}
	return int(v), true
}

func cmdMaxConnFrontend(x *execCtx, args []string) {
	if len(args) < 4 || args[3] == "" {
		x.fail("A frontend name is expected.")
		return
	}
	val := ""
	if len(args) > 4 {
		val = args[4]
	}
	n, ok := parseCount(x, val, "Integer value expected.")
	if !ok {
		return
	}
	if err := x.t.SetFrontendMaxConn(args[3], n); err != nil {
		x.failErr(err)
	}
}

func cmdMaxConnGlobal(x *execCtx, args []string) {
	val := ""
	if len(args) > 3 {
		val = args[3]
	}
	n, ok := parseCount(x, val, "Expects an integer value.")
	if !ok {
		return
	}
	if err := x.t.SetGlobalMaxConn(n); err != nil {
		x.failErr(err)
	}
}

// humanAge prints a duration as HAProxy's human_time: "0s", "42s",
// "3m12s", "2h5m", "1d3h".
func humanAge(d time.Duration) string {
	s := int64(d / time.Second)
	if s <= 0 {
		return "0s"
	}
	days, s := s/86400, s%86400
	hours, s := s/3600, s%3600
	mins, secs := s/60, s%60
	var b strings.Builder
	switch {
	case days > 0:
		b.WriteString(strconv.FormatInt(days, 10) + "d")
		if hours > 0 {
			b.WriteString(strconv.FormatInt(hours, 10) + "h")
		}
	case hours > 0:
		b.WriteString(strconv.FormatInt(hours, 10) + "h")
		if mins > 0 {
			b.WriteString(strconv.FormatInt(mins, 10) + "m")
		}
	case mins > 0:
		b.WriteString(strconv.FormatInt(mins, 10) + "m")
		if secs > 0 {
			b.WriteString(strconv.FormatInt(secs, 10) + "s")
		}
	default:
		b.WriteString(strconv.FormatInt(secs, 10) + "s")
	}
	return b.String()
}

func orNone(s, none string) string {
	if s == "" {
		return none
	}
	return dash(s)
}

func writeSession(x *execCtx, s *Session) {
	x.printf("0x%x: proto=%s src=%s fe=%s be=%s srv=%s age=%s bytes_in=%d bytes_out=%d\n",
		s.ID, orNone(s.Proto, "?"), orNone(s.Src, "?"), orNone(s.Frontend, "<NONE>"),
		orNone(s.Backend, "<NONE>"), orNone(s.Server, "<none>"), humanAge(s.Age), s.BytesIn, s.BytesOut)
}

// parseSessionID reads an id as `show sess` prints it (0x...) or decimal.
func parseSessionID(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 0, 64)
	return v, err == nil && v != 0
}

func cmdShowSess(x *execCtx, args []string) {
	sessions := x.t.Sessions()
	if len(args) > 2 && args[2] != "all" {
		id, ok := parseSessionID(args[2])
		if ok {
			for i := range sessions {
				if sessions[i].ID == id {
					writeSession(x, &sessions[i])
					return
				}
			}
		}
		x.fail("Session not found.")
		return
	}
	for i := range sessions {
		writeSession(x, &sessions[i])
	}
}

func cmdShutdownSession(x *execCtx, args []string) {
	id, ok := uint64(0), false
	if len(args) > 2 {
		id, ok = parseSessionID(args[2])
	}
	if !ok {
		x.fail("Session pointer expected (use 'show sess').")
		return
	}
	if err := x.t.ShutdownSession(id); err != nil {
		x.failErr(err)
	}
}

// ---- stick tables ----

func findTable(x *execCtx, name string) *stick.Table {
	for _, t := range x.t.Tables() {
		if t != nil && t.Name() == name {
			return t
		}
	}
	x.fail("No such table")
	return nil
}

func cmdShowTable(x *execCtx, args []string) {
	if len(args) < 3 || args[2] == "" {
		for _, t := range x.t.Tables() {
			if t != nil {
				x.line(t.Header())
			}
		}
		return
	}
	t := findTable(x, args[2])
	if t == nil {
		return
	}
	f, err := t.ParseFilter(args[3:])
	if err != nil {
		x.failErr(err)
		return
	}
	if x.sess.level < LevelOperator {
		x.line(t.Header())
		x.line("# contents not dumped due to insufficient privileges")
		return
	}
	t.Show(x.w, f)
}

const clearTableUsage = `Required arguments: <table> "data.<store_data_type>" <operator> <value> or <table> key <key>`

func cmdClearTable(x *execCtx, args []string) {
	if len(args) < 3 || args[2] == "" {
		x.fail(clearTableUsage)
		return
	}
	t := findTable(x, args[2])
	if t == nil {
		return
	}
	if _, err := t.ExecClear(args[3:]); err != nil {
		if strings.HasPrefix(err.Error(), "Optional argument only supports") {
			x.fail(clearTableUsage)
			return
		}
		x.failErr(err)
	}
}

func cmdSetTable(x *execCtx, args []string) {
	if len(args) < 3 || args[2] == "" {
		x.fail("Required arguments: <table> key <key> [data.<store_data_type> <value>]*")
		return
	}
	t := findTable(x, args[2])
	if t == nil {
		return
	}
	if err := t.ExecSet(args[3:]); err != nil {
		x.failErr(err)
	}
}
