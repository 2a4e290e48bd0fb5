package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"appl/appliance"
	"appl/appliance/admin"
	"appl/internal/cfgfile"
	"appl/netsetup"
	"appl/sysctl"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes (docs/admin.md).
const (
	exitOK         = 0
	exitFailed     = 1 // the node refused or the operation failed
	exitUsage      = 2 // bad command line, or a subcommand not available yet
	exitNotRunning = 3 // no admin socket (appld not running) or nothing listening on it
	exitPermission = 4 // the socket exists but this user may not use it
)

const usage = `usage: applctl [-s SOCKET] COMMAND [ARGS]

  status [--json]                      this node and its peer: VRRP, backends, config hash
  failover [--to NODE] [--wait|--no-wait] [--force] [--timeout 10s] [--json]
                                       hand mastership to the peer (or take it: --to THIS)
  reload                               re-read the configuration file on the node
  maint|drain|ready BACKEND/SERVER     set a server's admin state
  events                               follow VRRP and server events (Ctrl-C to stop)
  config check FILE                    check a configuration file locally (like appld -c)
  config push FILE                     validate, commit and load a configuration on every node
  map show|get|add|set|del|clear ...   runtime map edits (applctl map for details; replicated)
  table show|set|clear ...             stick tables (applctl table for details)
  cluster init|token|join|status|remove|recover   replication (applctl cluster for details)
  sysctl plan|apply ...                kernel tuning from the sysctl section (docs/sysctl.md)
  network plan|apply ...               interfaces, bridges, routes, TPROXY (docs/network.md)
  migrate keepalived FILE              translate keepalived.conf into vrrp sections (stdout)

  -s SOCKET   admin socket (default ` + appliance.DefaultAdminSocket + `, or $APPL_ADMIN_SOCKET)

exit codes: 0 ok, 1 refused or failed, 2 usage, 3 appld not running, 4 permission denied
`

// notYet lists subcommands that a later part of appl owns.
var notYet = map[string]bool{}

func run(args []string, stdout, stderr io.Writer) int {
	sock := os.Getenv("APPL_ADMIN_SOCKET")
	if sock == "" {
		sock = appliance.DefaultAdminSocket
	}
	for len(args) >= 2 && (args[0] == "-s" || args[0] == "--socket") {
		sock, args = args[1], args[2:]
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "sysctl":
		return sysctl.RunCLI(rest, stdout, stderr)
	case cmd == "network":
		return netsetup.RunCLI(rest, stdout, stderr)
	case cmd == "config" && len(rest) == 2 && rest[0] == "check":
		return configCheck(rest[1], stdout, stderr)
	case cmd == "config" && len(rest) > 0 && rest[0] == "push":
		return configPush(sock, rest[1:], stdout, stderr)
	case cmd == "cluster":
		return clusterCmd(sock, rest, stdout, stderr)
	case cmd == "map":
		return mapCmd(sock, rest, stdout, stderr)
	case cmd == "table":
		return tableCmd(sock, rest, stdout, stderr)
	case cmd == "migrate":
		return migrate(rest, stdout, stderr)
	case notYet[cmd]:
		fmt.Fprintf(stderr, "applctl %s: not available yet\n", cmd)
		return exitUsage
	case cmd == "status":
		return status(sock, rest, stdout, stderr)
	case cmd == "failover":
		return failover(sock, rest, stdout, stderr)
	case cmd == "reload":
		return reload(sock, rest, stdout, stderr)
	case cmd == "maint" || cmd == "drain" || cmd == "ready":
		return serverState(sock, cmd, rest, stdout, stderr)
	case cmd == "events":
		return events(sock, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "applctl: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// newFlags parses a subcommand's flags; -s is accepted there too.
func newFlags(name string, stderr io.Writer, sock *string) *flag.FlagSet {
	fs := flag.NewFlagSet("applctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(sock, "s", *sock, "admin socket")
	return fs
}

// reach explains why the admin socket could not be used and picks the exit code.
func reach(stderr io.Writer, sock string, err error) int {
	var ae *admin.APIError
	switch {
	case errors.As(err, &ae):
		fmt.Fprintf(stderr, "applctl: %v\n", ae)
		return exitFailed
	case errors.Is(err, syscall.ENOENT):
		fmt.Fprintf(stderr, "applctl: appld is not running: no admin socket at %s (start appld, or give its socket with -s)\n", sock)
		return exitNotRunning
	case errors.Is(err, syscall.ECONNREFUSED):
		fmt.Fprintf(stderr, "applctl: appld is not running: nothing listens on %s (a stale socket from a stopped appld)\n", sock)
		return exitNotRunning
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		fmt.Fprintf(stderr, "applctl: permission denied on %s: the admin socket is mode 0600, owned by %s; run applctl as root (sudo)\n", sock, owner(sock))
		return exitPermission
	}
	fmt.Fprintf(stderr, "applctl: %s: %v\n", sock, err)
	return exitFailed
}

func owner(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "root"
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		if s.Uid == 0 {
			return "root"
		}
		return fmt.Sprintf("uid %d", s.Uid)
	}
	return "root"
}

func ctxTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func status(sock string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr, &sock)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	st, err := admin.NewUnixClient(sock).Status(ctx, false)
	if err != nil {
		return reach(stderr, sock, err)
	}
	if *asJSON {
		printJSON(stdout, st)
		return exitOK
	}
	printStatus(stdout, st, time.Now())
	return exitOK
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Round(100*time.Millisecond).String() + " ago"
	case d < time.Hour:
		return d.Round(time.Second).String() + " ago"
	}
	return d.Round(time.Minute).String() + " ago"
}

func printNode(w io.Writer, n *admin.NodeStatus, role string, now time.Time) {
	ready := "ready"
	if !n.Ready {
		ready = "NOT READY"
	}
	demoted := ""
	if n.Demoted {
		demoted = "  demoted"
	}
	repl := n.Replication.Role
	if n.Replication.Leader != "" {
		repl += " (leader " + n.Replication.Leader + ")"
	} else if repl != "none" && repl != "not joined" {
		repl += " (no leader)"
	}
	fmt.Fprintf(w, "node %s (%s)  %s  up %s  config %s  replication %s%s\n", n.Node, role, ready,
		(time.Duration(n.UptimeSec * float64(time.Second))).Round(time.Second), short(n.ConfigHash), repl, demoted)
	for _, in := range n.VRRP {
		fmt.Fprintf(w, "  %s %-12s %-7s prio %d", in.Kind, in.Name, in.State, in.Priority)
		if in.EffectivePriority != in.Priority {
			fmt.Fprintf(w, " (now %d)", in.EffectivePriority)
		}
		fmt.Fprintf(w, "  since %s (%s)  vip %s\n", in.Since.Local().Format("15:04:05"), ago(now, in.Since), strings.Join(in.VIPs, " "))
	}
	for _, b := range n.Backends {
		fmt.Fprintf(w, "  backend %-12s %d/%d up\n", b.Name, b.Up, len(b.Servers))
		for _, s := range b.Servers {
			chk := s.CheckStatus
			if chk == "" {
				chk = "no check"
			}
			adm := ""
			if s.Admin != "ready" {
				adm = " [" + s.Admin + "]"
			}
			fmt.Fprintf(w, "    %-12s %-21s %-5s%s  %s, checked %s\n", s.Name, s.Address, s.State, adm, chk, ago(now, s.LastCheck))
		}
	}
	for _, c := range n.Checks {
		ok := "ok"
		if !c.OK {
			ok = "FAILING"
		}
		fmt.Fprintf(w, "  check %-14s backend %s: %d up, min %d: %s\n", c.Name, c.Backend, c.Up, c.MinUp, ok)
	}
}

func printStatus(w io.Writer, st admin.ClusterStatus, now time.Time) {
	printNode(w, &st.Local, "this node", now)
	switch {
	case st.Peer != nil:
		printNode(w, st.Peer, "peer "+st.PeerAddr, now)
		if st.Peer.ConfigHash == st.Local.ConfigHash {
			fmt.Fprintf(w, "config: same file on both nodes (sha256 %s)\n", short(st.Local.ConfigHash))
		} else {
			fmt.Fprintf(w, "config: DRIFT: %s runs %s, %s runs %s\n", st.Local.Node, short(st.Local.ConfigHash), st.Peer.Node, short(st.Peer.ConfigHash))
		}
	case st.PeerError != "":
		fmt.Fprintf(w, "peer: UNREACHABLE: %s\n", st.PeerError)
	default:
		fmt.Fprintln(w, "peer: none configured (admin `peer`, or `admin-addr` in the other node block)")
	}
}

func failover(sock string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("failover", stderr, &sock)
	to := fs.String("to", "", "node to make master (default: the peer); this node's name takes mastership back")
	wait := fs.Bool("wait", true, "wait for the new master and report the time taken")
	noWait := fs.Bool("no-wait", false, "demote and return without waiting")
	force := fs.Bool("force", false, "fail over even when the peer cannot be seen healthy")
	timeout := fs.Duration("timeout", admin.DefaultFailoverTimeout, "how long to wait for the peer")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	req := admin.FailoverRequest{To: *to, Wait: *wait && !*noWait, Force: *force, Timeout: timeout.String()}
	ctx, cancel := ctxTimeout(*timeout + 15*time.Second)
	defer cancel()
	res, err := admin.NewUnixClient(sock).Failover(ctx, req)
	if *asJSON && (err == nil || res.From != "") {
		printJSON(stdout, res)
	}
	if err != nil {
		return reach(stderr, sock, err)
	}
	if *asJSON {
		return exitOK
	}
	switch {
	case res.Note == "already master":
		fmt.Fprintf(stdout, "%s is already master\n", res.Master)
	case !res.Waited:
		fmt.Fprintf(stdout, "%s demoted (%s); not waiting for the peer\n", res.From, strings.Join(res.Instances, ", "))
	default:
		fmt.Fprintf(stdout, "failover done: %s is master of %s, %.0f ms after %s stepped down\n", res.Master, strings.Join(res.Instances, ", "), res.TookMS, res.From)
	}
	if res.Note != "" && res.Note != "already master" {
		fmt.Fprintf(stdout, "note: %s\n", res.Note)
	}
	return exitOK
}

func reload(sock string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("reload", stderr, &sock)
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	ctx, cancel := ctxTimeout(60 * time.Second)
	defer cancel()
	res, err := admin.NewUnixClient(sock).Reload(ctx)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "[WARNING] %s\n", w)
	}
	if err != nil {
		return reach(stderr, sock, err)
	}
	fmt.Fprintf(stdout, "reloaded (sha256 %s)\n", short(res.ConfigHash))
	return exitOK
}

func serverState(sock, state string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(state, stderr, &sock)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	be, srv, ok := strings.Cut(fs.Arg(0), "/")
	if fs.NArg() != 1 || !ok || be == "" || srv == "" {
		fmt.Fprintf(stderr, "usage: applctl %s BACKEND/SERVER\n", state)
		return exitUsage
	}
	ctx, cancel := ctxTimeout(10 * time.Second)
	defer cancel()
	if err := admin.NewUnixClient(sock).SetServerState(ctx, be, srv, state); err != nil {
		return reach(stderr, sock, err)
	}
	fmt.Fprintf(stdout, "%s/%s: %s\n", be, srv, state)
	return exitOK
}

func events(sock string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("events", stderr, &sock)
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
	}
	err := admin.NewUnixClient(sock).Events(context.Background(), func(ev admin.Event) {
		b, _ := json.Marshal(ev)
		fmt.Fprintf(stdout, "%s\n", b)
	})
	if err != nil {
		return reach(stderr, sock, err)
	}
	return exitOK
}

func configCheck(path string, stdout, stderr io.Writer) int {
	cfg, err := appliance.Load(path, nil)
	if err != nil {
		if es := cfgfile.AsErrors(err); es != nil {
			for _, e := range es {
				fmt.Fprintf(stderr, "[ALERT] %s\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "[ALERT] %v\n", err)
		}
		return exitFailed
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "[WARNING] %s\n", w)
	}
	var nodes []string
	for _, n := range cfg.Nodes {
		nodes = append(nodes, n.Name)
	}
	if len(nodes) > 0 {
		fmt.Fprintf(stdout, "node blocks: %s\n", strings.Join(nodes, ", "))
	}
	fmt.Fprintf(stdout, "Configuration file is valid (sha256 %s)\n", cfg.Hash)
	return exitOK
}
