package runtime

import (
	"bufio"
	"fmt"
	"sort"
	"strings"
)

// command is one CLI keyword: its fixed words, the usage printed by help,
// the least level allowed to run it, and its handler (which gets every
// word of the command line, keyword included).
type command struct {
	words []string
	usage string
	help  string
	level Level
	run   func(x *execCtx, args []string)
}

// execCtx is one command's execution: where the answer goes, the target,
// and the connection's state (level, prompt mode, quit).
type execCtx struct {
	w    *bufio.Writer
	t    Target
	sess *session
}

// session is what a connection remembers between commands.
type session struct {
	level       Level
	interactive bool
	quit        bool
}

func (x *execCtx) line(s string) {
	x.w.WriteString(s)
	x.w.WriteByte('\n')
}

func (x *execCtx) printf(format string, a ...any) { fmt.Fprintf(x.w, format, a...) }

// fail prints an error answer (one line).
func (x *execCtx) fail(msg string) { x.line(msg) }

func (x *execCtx) failErr(err error) { x.line(oneLine(err.Error())) }

// oneLine keeps an error text on one line: an empty line would end the
// answer early for scripts.
func oneLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
}

// commands is the keyword table, sorted like HAProxy's help (help, prompt
// and quit are printed last by usage()).
var commands []*command

func init() {
	commands = []*command{
		{words: w("add acl"), usage: "add acl <acl> <pattern>", help: "add an acl entry", level: LevelOperator, run: cmdAddACL},
		{words: w("add map"), usage: "add map <map> <key> <val>", help: "add a map entry", level: LevelOperator, run: cmdAddMap},
		{words: w("clear acl"), usage: "clear acl <acl>", help: "clear the contents of this acl", level: LevelOperator, run: cmdClearACL},
		{words: w("clear map"), usage: "clear map <map>", help: "clear the contents of this map", level: LevelOperator, run: cmdClearMap},
		{words: w("clear table"), usage: "clear table <table> [<filter>]*", help: "remove an entry from a table (filter: data/key)", level: LevelOperator, run: cmdClearTable},
		{words: w("del acl"), usage: "del acl <acl> [<key>|#<ref>]", help: "delete acl entries matching <key>", level: LevelOperator, run: cmdDelACL},
		{words: w("del map"), usage: "del map <map> [<key>|#<ref>]", help: "delete map entries matching <key>", level: LevelOperator, run: cmdDelMap},
		{words: w("disable frontend"), usage: "disable frontend <frontend>", help: "temporarily disable specific frontend", level: LevelAdmin, run: cmdDisableFrontend},
		{words: w("disable server"), usage: "disable server (DEPRECATED)", help: "disable a server for maintenance (use 'set server' instead)", level: LevelAdmin, run: cmdDisableServer},
		{words: w("enable frontend"), usage: "enable frontend <frontend>", help: "re-enable specific frontend", level: LevelAdmin, run: cmdEnableFrontend},
		{words: w("enable server"), usage: "enable server  (DEPRECATED)", help: "enable a disabled server (use 'set server' instead)", level: LevelAdmin, run: cmdEnableServer},
		{words: w("get acl"), usage: "get acl <acl> <value>", help: "report the patterns matching a sample for an ACL", level: LevelUser, run: cmdGetACL},
		{words: w("get map"), usage: "get map <acl> <value>", help: "report the keys and values matching a sample for a map", level: LevelUser, run: cmdGetMap},
		{words: w("get weight"), usage: "get weight <bk>/<srv>", help: "report a server's current weight", level: LevelUser, run: cmdGetWeight},
		{words: w("operator"), usage: "operator", help: "lower the level of the current CLI session to operator", level: LevelUser, run: cmdLower(LevelOperator)},
		{words: w("set map"), usage: "set map <map> [<key>|#<ref>] <value>", help: "modify a map entry", level: LevelOperator, run: cmdSetMap},
		{words: w("set maxconn frontend"), usage: "set maxconn frontend <frontend> <value>", help: "change a frontend's maxconn setting", level: LevelAdmin, run: cmdMaxConnFrontend},
		{words: w("set maxconn global"), usage: "set maxconn global <value>", help: "change the per-process maxconn setting", level: LevelAdmin, run: cmdMaxConnGlobal},
		{words: w("set server"), usage: "set server <bk>/<srv> [opts]", help: "change a server's state or weight", level: LevelAdmin, run: cmdSetServer},
		{words: w("set table"), usage: "set table <table> key <k> [data.* <v>]*", help: "update or create a table entry's data", level: LevelOperator, run: cmdSetTable},
		{words: w("set weight"), usage: "set weight <bk>/<srv>  (DEPRECATED)", help: "change a server's weight (use 'set server' instead)", level: LevelAdmin, run: cmdSetWeight},
		{words: w("show acl"), usage: "show acl [<acl>]", help: "report available acls or dump an acl's contents", level: LevelUser, run: cmdShowACL},
		{words: w("show cli level"), usage: "show cli level", help: "display the level of the current CLI session", level: LevelUser, run: cmdShowLevel},
		{words: w("show info"), usage: "show info", help: "report information about the running process", level: LevelUser, run: cmdShowInfo},
		{words: w("show map"), usage: "show map [map]", help: "report available maps or dump a map's contents", level: LevelUser, run: cmdShowMap},
		{words: w("show servers state"), usage: "show servers state [<backend>]", help: "dump volatile server information (all or for a single backend)", level: LevelUser, run: cmdServersState},
		{words: w("show sess"), usage: "show sess [id]", help: "report the list of current sessions or dump this exact session", level: LevelOperator, run: cmdShowSess},
		{words: w("show stat"), usage: "show stat [no-maint|up]*", help: "report counters for each proxy and server", level: LevelUser, run: cmdShowStat},
		{words: w("show table"), usage: "show table <table> [<filter>]*", help: "report table usage stats or dump this table's contents (filter: data/key)", level: LevelUser, run: cmdShowTable},
		{words: w("shutdown session"), usage: "shutdown session [id]", help: "kill a specific session", level: LevelAdmin, run: cmdShutdownSession},
		{words: w("user"), usage: "user", help: "lower the level of the current CLI session to user", level: LevelUser, run: cmdLower(LevelUser)},
		// help, prompt and quit are always last, as HAProxy prints them.
		{words: w("help"), usage: "help [<command>]", help: "list matching or all commands", level: LevelUser, run: cmdHelp},
		{words: w("prompt"), usage: "prompt", help: "toggle interactive mode with prompt", level: LevelUser, run: cmdPrompt},
		{words: w("quit"), usage: "quit", help: "disconnect", level: LevelUser, run: cmdQuit},
	}
	sort.SliceStable(commands[:len(commands)-3], func(i, j int) bool {
		return strings.Join(commands[i].words, " ") < strings.Join(commands[j].words, " ")
	})
}

func w(s string) []string { return strings.Fields(s) }

func (c *command) helpLine() string {
	return fmt.Sprintf("  %-40s: %s\n", c.usage, c.help)
}

// lookup finds the command whose words start args, the longest first.
func lookup(args []string) *command {
	var best *command
	for _, c := range commands {
		if len(c.words) > len(args) || (best != nil && len(c.words) <= len(best.words)) {
			continue
		}
		ok := true
		for i, kw := range c.words {
			if args[i] != kw {
				ok = false
				break
			}
		}
		if ok {
			best = c
		}
	}
	return best
}

// usage writes HAProxy's answer to an unknown command (or to help):
// the commands sharing the longest exactly matching word prefix, or the
// closest ones by word fingerprint, then help, prompt and quit.
func usage(x *execCtx, args []string, isHelp bool) {
	tail := commands[len(commands)-3:]
	body := commands[:len(commands)-3]
	// longest run of leading words that some command has
	length := 0
	for _, c := range body {
		n := 0
		for n < len(c.words) && n < len(args) && c.words[n] == args[n] {
			n++
		}
		if n > length {
			length = n
		}
	}
	switch {
	case isHelp:
		x.w.WriteString("The following commands are valid at this level:\n")
	case length == 0 && (len(args) == 0 || args[0] == ""):
		x.w.WriteString("Unknown command. Please enter one of the following commands only:\n")
	default:
		x.w.WriteString("Unknown command, but maybe one of the following ones is a better match:\n")
	}
	prefixed := func(c *command) bool {
		if len(c.words) < length {
			return false
		}
		for i := 0; i < length; i++ {
			if c.words[i] != args[i] {
				return false
			}
		}
		return true
	}
	// fuzzy matches on the words after the matching prefix
	type match struct {
		c    *command
		dist int
	}
	var best []match
	if !isHelp && length < len(args) {
		for _, c := range body {
			if !prefixed(c) || len(c.words) <= length {
				continue
			}
			var a, b fingerprint
			tot := 0
			for _, s := range args[length:min(len(args), length+len(c.words)+1)] {
				a.add(s)
				tot += len(s)
			}
			for _, s := range c.words[length:] {
				b.add(s)
				tot += len(s)
			}
			d := a.distance(&b)
			if d < 5*tot/2 {
				best = append(best, match{c, d})
			}
		}
		sort.SliceStable(best, func(i, j int) bool { return best[i].dist < best[j].dist })
		if len(best) > 5 {
			best = best[:5]
		}
	}
	if len(best) > 0 {
		for _, m := range best {
			if m.dist > 5*best[0].dist/2 {
				break
			}
			x.w.WriteString(m.c.helpLine())
		}
	} else {
		for _, c := range body {
			if prefixed(c) {
				x.w.WriteString(c.helpLine())
			}
		}
	}
	for _, c := range tail {
		x.w.WriteString(c.helpLine())
	}
}

// fingerprint counts the letter pairs of words (HAProxy's
// update_word_fingerprint): letters fold to 1..26, digits to 27, anything
// else and the word's ends to 28.
type fingerprint [32 * 32]uint8

func (f *fingerprint) add(word string) {
	from := 28
	for i := 0; i < len(word); i++ {
		c := word[i] | 0x20
		to := 28
		switch {
		case c >= 'a' && c <= 'z':
			to = int(c-'a') + 1
		case word[i] >= '0' && word[i] <= '9':
			to = 27
		}
		f[32*from+to]++
		from = to
	}
	f[32*from+28]++
}

func (f *fingerprint) distance(g *fingerprint) int {
	d := 0
	for i := range f {
		k := int(f[i]) - int(g[i])
		if k < 0 {
			k = -k
		}
		d += k
	}
	return d
}

func cmdHelp(x *execCtx, args []string) {
	usage(x, args[1:], true) // "help show" lists the show commands
}

func cmdPrompt(x *execCtx, _ []string) { x.sess.interactive = !x.sess.interactive }

func cmdQuit(x *execCtx, _ []string) { x.sess.quit = true }

func cmdShowLevel(x *execCtx, _ []string) { x.line(x.sess.level.String()) }

func cmdLower(to Level) func(*execCtx, []string) {
	return func(x *execCtx, _ []string) {
		if to < x.sess.level {
			x.sess.level = to
		}
	}
}
