package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"appl/appliance/admin"
	"appl/replication"
)

const clusterUsage = `usage: applctl cluster COMMAND
  init                          create the cluster on this node; prints the join token
  token                         print the join token again
  join ADDR --token T           join the cluster of the member at ADDR (its cluster address)
  status [--json]               members, voters, leader, term, indexes, lag per follower
  remove NODE                   remove a member for good
  recover --force-single        make this node the only voter (the peer is gone for good)
`

func clusterCmd(sock string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, clusterUsage)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("cluster "+sub, stderr, &sock)
	token := fs.String("token", "", "join token (cluster join)")
	asJSON := fs.Bool("json", false, "print as JSON (cluster status)")
	force := fs.Bool("force-single", false, "cluster recover: make this node the only voter")
	// Flags may come after positional arguments (join ADDR --token T).
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return exitUsage
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos = append(pos, rest[0])
			rest = rest[1:]
		}
	}
	c := admin.NewUnixClient(sock)
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	switch {
	case sub == "init" && len(pos) == 0:
		tok, err := c.ClusterInit(ctx)
		if err != nil {
			return reach(stderr, sock, err)
		}
		fmt.Fprintln(stdout, tok)
		fmt.Fprintln(stderr, "cluster created; on the other boxes: applctl cluster join ADDR --token <the token above>")
		return exitOK
	case sub == "token" && len(pos) == 0:
		tok, err := c.ClusterToken(ctx)
		if err != nil {
			return reach(stderr, sock, err)
		}
		fmt.Fprintln(stdout, tok)
		return exitOK
	case sub == "join" && len(pos) == 1:
		if *token == "" {
			fmt.Fprintln(stderr, "applctl cluster join: --token T is required (applctl cluster token on a member prints it)")
			return exitUsage
		}
		if err := c.ClusterJoin(ctx, pos[0], *token); err != nil {
			return reach(stderr, sock, err)
		}
		fmt.Fprintf(stdout, "joined the cluster of %s\n", pos[0])
		return exitOK
	case sub == "status" && len(pos) == 0:
		var st replication.Status
		if err := c.ClusterStatus(ctx, &st); err != nil {
			return reach(stderr, sock, err)
		}
		if *asJSON {
			printJSON(stdout, st)
			return exitOK
		}
		printClusterStatus(stdout, st)
		return exitOK
	case sub == "remove" && len(pos) == 1:
		if err := c.ClusterRemove(ctx, pos[0]); err != nil {
			return reach(stderr, sock, err)
		}
		fmt.Fprintf(stdout, "removed %s\n", pos[0])
		return exitOK
	case sub == "recover" && len(pos) == 0:
		if !*force {
			fmt.Fprintln(stderr, "applctl cluster recover: only --force-single exists; run it on ONE box, only when the other is really down")
			return exitUsage
		}
		if err := c.ClusterRecoverForceSingle(ctx); err != nil {
			return reach(stderr, sock, err)
		}
		fmt.Fprintln(stdout, "this node is now the only voter and accepts writes; a returning peer rejoins as a follower")
		return exitOK
	}
	fmt.Fprint(stderr, clusterUsage)
	return exitUsage
}

func printClusterStatus(w io.Writer, st replication.Status) {
	role := st.State
	if st.Witness {
		role += " (witness)"
	}
	q := "yes"
	if !st.Quorum {
		q = "NO (map and config writes refused)"
	}
	fmt.Fprintf(w, "node %s  %s  leader %s  term %d  quorum %s\n", st.Node, role, orDash(st.Leader), st.Term, q)
	fmt.Fprintf(w, "index  last %d  commit %d  applied %d\n", st.LastIndex, st.CommitIndex, st.AppliedIndex)
	fmt.Fprintln(w, "voters:")
	for _, v := range st.Voters {
		reach := "reachable"
		if !v.Reachable {
			reach = "UNREACHABLE"
		}
		fmt.Fprintf(w, "  %-12s %-21s %-9s %-11s applied %d  lag %d", v.ID, v.Addr, orDash(v.State), reach, v.AppliedIndex, v.Lag)
		if v.Error != "" {
			fmt.Fprintf(w, "  (%s)", v.Error)
		}
		fmt.Fprintln(w)
	}
	if len(st.Members) > 0 {
		fmt.Fprintln(w, "members:")
	}
	hashes := map[string]bool{}
	for _, m := range st.Members {
		alive := "alive"
		if !m.Alive {
			alive = "DEAD"
		}
		var vr []string
		for k, v := range m.VRRP {
			vr = append(vr, k+"="+v)
		}
		fmt.Fprintf(w, "  %-12s %-9s %-5s config %s  %s %s\n", m.Node, orDash(m.Role), alive, short(m.ConfigHash), m.Health, strings.Join(vr, " "))
		if !m.Witness && m.ConfigHash != "" {
			hashes[m.ConfigHash] = true
		}
	}
	if len(hashes) > 1 {
		fmt.Fprintln(w, "config: DRIFT between the appliances (applctl config push FILE makes them equal)")
	} else if len(hashes) == 1 {
		fmt.Fprintln(w, "config: same file on every appliance")
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// configPush validates the file locally, then has the node validate and commit it;
// every node writes and reloads it.
func configPush(sock string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config push", stderr, &sock)
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: applctl config push FILE")
		return exitUsage
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "applctl: %v\n", err)
		return exitFailed
	}
	ctx, cancel := ctxTimeout(30 * time.Second)
	defer cancel()
	res, err := admin.NewUnixClient(sock).ConfigPush(ctx, data)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "[WARNING] %s\n", w)
	}
	if err != nil {
		return reach(stderr, sock, err)
	}
	fmt.Fprintf(stdout, "configuration pushed and loaded (sha256 %s)\n", short(res.ConfigHash))
	return exitOK
}
