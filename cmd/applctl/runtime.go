package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"appl/appliance/admin"
)

// map and table run the runtime API's map and stick-table commands on the node at admin
// level through the admin socket (no `stats socket` needed); with replication, writes
// are committed on the cluster before they answer, exactly as through the stats socket.

const mapUsage = `usage: applctl map show [NAME]            list the maps, or one map's entries
       applctl map get NAME KEY           the entry KEY matches
       applctl map add NAME KEY VALUE     add an entry
       applctl map set NAME KEY VALUE     change an entry's value
       applctl map del NAME KEY           delete an entry
       applctl map clear NAME             delete every entry
NAME is the map file's name as in the configuration (for example ./map or /etc/appl/hosts.map).`

const tableUsage = `usage: applctl table show [NAME]           list the stick tables, or one table's entries
       applctl table set NAME KEY DATA VALUE   set a stored value (DATA as data.gpc0)
       applctl table clear NAME [KEY]     delete one entry, or every entry`

func mapCmd(sock string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("map", stderr, &sock)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	a := fs.Args()
	n := map[string]int{"show": -1, "get": 2, "add": 3, "set": 3, "del": 2, "clear": 1}
	want, ok := n[first(a)]
	if !ok || (want >= 0 && len(a)-1 != want) || (want < 0 && len(a) > 2) {
		fmt.Fprintln(stderr, mapUsage)
		return exitUsage
	}
	line := a[0] + " map" + words(a[1:])
	return runtimeLine(sock, line, a[0] != "show" && a[0] != "get", stdout, stderr)
}

func tableCmd(sock string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("table", stderr, &sock)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	a := fs.Args()
	var line string
	switch {
	case first(a) == "show" && len(a) <= 2:
		line = "show table" + words(a[1:])
	case first(a) == "set" && len(a) == 5:
		line = "set table" + words(a[1:2]) + " key" + words(a[2:])
	case first(a) == "clear" && len(a) == 2:
		line = "clear table" + words(a[1:])
	case first(a) == "clear" && len(a) == 3:
		line = "clear table" + words(a[1:2]) + " key" + words(a[2:])
	default:
		fmt.Fprintln(stderr, tableUsage)
		return exitUsage
	}
	return runtimeLine(sock, line, a[0] != "show", stdout, stderr)
}

// runtimeLine sends line; a write answers nothing when it worked, so any answer to
// one is its error (exit 1).
func runtimeLine(sock, line string, write bool, stdout, stderr io.Writer) int {
	ctx, cancel := ctxTimeout(15 * time.Second)
	defer cancel()
	out, err := admin.NewUnixClient(sock).Runtime(ctx, line)
	if err != nil {
		return reach(stderr, sock, err)
	}
	out = strings.TrimRight(out, "\n")
	if write && out != "" {
		fmt.Fprintln(stderr, out)
		return exitFailed
	}
	if out != "" {
		fmt.Fprintln(stdout, out)
	}
	return exitOK
}

func first(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}

// words joins args as runtime API words: a space before each, and the characters the
// runtime's line splitter treats specially (blanks, `;`, `\`) escaped.
func words(args []string) string {
	var b strings.Builder
	for _, w := range args {
		b.WriteByte(' ')
		for _, r := range w {
			if r == ' ' || r == '\t' || r == ';' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
