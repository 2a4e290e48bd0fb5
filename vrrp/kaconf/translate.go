package kaconf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Note is one keepalived statement that was not translated, with why.
type Note struct {
	Line int
	Text string
}

func (n Note) String() string { return fmt.Sprintf("line %d: %s", n.Line, n.Text) }

// Result is a translation: appl configuration text (vrrp and vrrp-group sections with
// `#` comments) and what was left out.
type Result struct {
	Config      string
	NotMigrated []Note
	Instances   int
	Groups      int
}

// Translate parses keepalived.conf text and translates it. name is only used in the
// header comment. The error is a syntax error; untranslatable content is never an error.
func Translate(name string, data []byte) (*Result, error) {
	nodes, err := Parse(data)
	if err != nil {
		return nil, err
	}
	t := &translator{res: &Result{}, scripts: map[string]*Node{}}
	t.scan(nodes)
	t.printf("# migrated from keepalived %s by `applctl migrate keepalived`\n", name)
	for _, n := range nodes {
		t.top(n)
	}
	t.res.Config = t.out.String()
	return t.res, nil
}

type translator struct {
	res     *Result
	out     strings.Builder
	scripts map[string]*Node // vrrp_script blocks by name
	// global_defs settings that are instance defaults in appl
	version                            string
	garpDelay, garpRepeat, garpRefresh string
	globalVersionLine                  int
}

func (t *translator) printf(format string, a ...any) { fmt.Fprintf(&t.out, format, a...) }

// skip records a statement that is not translated, in the output and the summary.
func (t *translator) skip(indent string, n *Node, why string) {
	text := n.String()
	if why != "" {
		text += " (" + why + ")"
	}
	t.res.NotMigrated = append(t.res.NotMigrated, Note{n.Line, text})
	t.printf("%s# not migrated: line %d: %s\n", indent, n.Line, oneLine(text))
}

// oneLine keeps a report on one comment line whatever the input held.
func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// scan collects what instances refer to: vrrp_script definitions and global defaults.
func (t *translator) scan(nodes []*Node) {
	for _, n := range nodes {
		switch n.Keyword() {
		case "vrrp_script":
			if len(n.Words) >= 2 && n.Block {
				t.scripts[n.Words[1]] = n
			}
		case "global_defs":
			for _, c := range n.Children {
				if len(c.Words) != 2 {
					continue
				}
				switch c.Keyword() {
				case "vrrp_version":
					t.version, t.globalVersionLine = c.Words[1], c.Line
				case "vrrp_garp_master_delay":
					t.garpDelay = c.Words[1]
				case "vrrp_garp_master_repeat":
					t.garpRepeat = c.Words[1]
				case "vrrp_garp_master_refresh":
					t.garpRefresh = c.Words[1]
				}
			}
		}
	}
}

func (t *translator) top(n *Node) {
	kw := n.Keyword()
	switch {
	case kw == "vrrp_instance" && n.Block && len(n.Words) == 2:
		t.instance(n)
	case kw == "vrrp_sync_group" && n.Block && len(n.Words) == 2:
		t.group(n)
	case kw == "vrrp_script" && n.Block:
		for _, c := range n.Children {
			switch c.Keyword() {
			case "script", "interval", "timeout", "rise", "fall", "weight":
			default:
				t.skip("", c, "vrrp_script "+n.Words[len(n.Words)-1]+": no appl equivalent")
			}
		}
	case kw == "global_defs" && n.Block:
		for _, c := range n.Children {
			switch c.Keyword() {
			case "vrrp_version", "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh":
				if len(c.Words) == 2 {
					continue // applied to every instance
				}
			}
			t.skip("", c, "global_defs: no appl equivalent")
		}
	case kw == "include":
		t.skip("", n, "include is not followed: migrate that file separately")
	case kw == "virtual_server" || kw == "virtual_server_group":
		t.skip("", n, "LVS: use appl's frontend/backend sections")
	default:
		t.skip("", n, "no appl equivalent")
	}
}

// dur turns a keepalived seconds value (integer or decimal) into an appl duration.
func dur(s string) (string, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e6 {
		return "", false
	}
	if f == float64(int64(f)) {
		return fmt.Sprintf("%ds", int64(f)), true
	}
	return fmt.Sprintf("%dms", int64(f*1000+0.5)), true
}

func (t *translator) instance(n *Node) {
	t.res.Instances++
	const in = "    "
	t.printf("\nvrrp %s\n", word(n.Words[1]))
	emitted := map[string]bool{} // appl keywords written, so global defaults do not repeat them
	emit := func(format string, a ...any) {
		l := fmt.Sprintf(format, a...)
		kw, _, _ := strings.Cut(l, " ")
		emitted[kw] = true
		t.printf("%s%s\n", in, l)
	}
	version := t.version
	hasV6, nopreempt := false, false
	for _, c := range n.Children {
		if c.Keyword() == "nopreempt" {
			nopreempt = true
		}
		if c.Keyword() == "version" && len(c.Words) == 2 {
			version = c.Words[1]
		}
		if c.Keyword() == "virtual_ipaddress" {
			for _, a := range c.Children {
				if len(a.Words) > 0 && strings.Contains(a.Words[0], ":") {
					hasV6 = true
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range n.Children {
		kw := c.Keyword()
		args := c.Words[1:]
		one := len(args) == 1 && !c.Block
		simple := map[string]string{"interface": "interface", "virtual_router_id": "vrid", "priority": "priority",
			"unicast_src_ip": "unicast-src", "mcast_src_ip": "unicast-src", "garp_master_repeat": "garp-repeat"}
		durs := map[string]string{"advert_int": "advert-int", "garp_master_delay": "garp-delay", "garp_master_refresh": "garp-refresh"}
		notify := map[string]string{"notify": "notify", "notify_master": "notify-master", "notify_backup": "notify-backup", "notify_fault": "notify-fault"}
		switch {
		case kw == "state":
			t.printf("%s# dropped: line %d: state %s (appl starts every instance in BACKUP, or MASTER at priority 255)\n", in, c.Line, strings.Join(args, " "))
		case simple[kw] != "" && one && !seen[simple[kw]]:
			seen[simple[kw]] = true
			v := args[0]
			if simple[kw] == "unicast-src" {
				v = hostPart(v)
			}
			emit("%s %s", simple[kw], word(v))
		case durs[kw] != "" && one:
			d, ok := dur(args[0])
			if !ok {
				t.skip(in, c, "not a number of seconds")
				continue
			}
			emit("%s %s", durs[kw], d)
		case kw == "version" && one:
			// emitted below with the global default
		case kw == "nopreempt" && len(args) == 0:
			emit("nopreempt")
		case kw == "preempt_delay" && one:
			d, ok := dur(args[0])
			switch {
			case nopreempt:
				t.skip(in, c, "keepalived ignores it with nopreempt")
			case !ok:
				t.skip(in, c, "not a number of seconds")
			default:
				emit("preempt delay %s", d)
			}
		case kw == "use_vmac" && len(args) <= 1 && !c.Block:
			emit("%s", strings.TrimSpace("use-vmac "+strings.Join(args, "")))
		case kw == "vmac_xmit_base" && len(args) == 0:
			emit("vmac-xmit-base")
		case notify[kw] != "" && len(args) >= 1 && !c.Block:
			t.notifyUser(in, c)
			emit("%s %s", notify[kw], word(args[0]))
		case kw == "authentication" && c.Block:
			t.auth(in, c, version, hasV6, emit)
		case kw == "virtual_ipaddress" && c.Block:
			for _, a := range c.Children {
				t.address(in, a, emit)
			}
		case kw == "unicast_peer" && c.Block:
			var peers []string
			for _, p := range c.Children {
				if _, err := netip.ParseAddr(hostPart(p.Keyword())); err != nil || len(p.Words) != 1 || p.Block {
					t.skip(in, p, "unicast_peer: only plain addresses are translated")
					continue
				}
				peers = append(peers, hostPart(p.Words[0]))
			}
			if len(peers) > 0 {
				emit("unicast-peer %s", strings.Join(peers, " "))
			}
		case kw == "track_interface" && c.Block:
			for _, i := range c.Children {
				switch {
				case len(i.Words) == 1 && !i.Block:
					emit("track-interface %s", word(i.Words[0]))
				case len(i.Words) == 3 && i.Words[1] == "weight" && !i.Block:
					emit("track-interface %s weight %s", word(i.Words[0]), word(i.Words[2]))
				default:
					t.skip(in, i, "track_interface: expected `IFNAME [weight W]`")
				}
			}
		case kw == "track_script" && c.Block:
			for _, s := range c.Children {
				t.trackScript(in, s, emit)
			}
		default:
			t.skip(in, c, "no appl equivalent in a vrrp section")
		}
	}
	if version == "" && hasV6 {
		version = "3" // keepalived runs IPv6 instances as VRRPv3
	}
	if version != "" {
		emit("version %s", word(version))
	}
	for _, g := range [][2]string{{"garp-delay", t.garpDelay}, {"garp-repeat", t.garpRepeat}, {"garp-refresh", t.garpRefresh}} {
		if g[1] == "" || emitted[g[0]] {
			continue
		}
		if g[0] == "garp-repeat" {
			emit("garp-repeat %s", word(g[1]))
		} else if d, ok := dur(g[1]); ok {
			emit("%s %s", g[0], d)
		}
	}
}

func (t *translator) auth(in string, c *Node, version string, hasV6 bool, emit func(string, ...any)) {
	var typ, pass string
	for _, a := range c.Children {
		switch {
		case a.Keyword() == "auth_type" && len(a.Words) == 2:
			typ = a.Words[1]
		case a.Keyword() == "auth_pass" && len(a.Words) == 2:
			pass = a.Words[1]
		default:
			t.skip(in, a, "authentication: unknown item")
		}
	}
	switch {
	case version == "3" || hasV6:
		t.skip(in, c, "VRRPv3 has no authentication; keepalived ignores it too")
	case typ != "PASS" || pass == "":
		t.skip(in, c, "only auth_type PASS with auth_pass is supported (no AH)")
	default:
		if len(pass) > 8 {
			// keepalived puts the first 8 bytes on the wire; so does appl.
			t.printf("%s# line %d: auth_pass truncated to its first 8 characters, as keepalived sends it\n", in, c.Line)
			pass = pass[:8]
		}
		emit("auth-pass %s", word(pass))
	}
}

func (t *translator) address(in string, a *Node, emit func(string, ...any)) {
	if len(a.Words) == 0 || a.Block {
		t.skip(in, a, "virtual_ipaddress: expected `ADDR[/PREFIX] [dev IFNAME]`")
		return
	}
	addr := a.Words[0]
	if !validPrefix(addr) {
		t.skip(in, a, "virtual_ipaddress: not an address appl reads")
		return
	}
	dev := ""
	var dropped []string
	for i := 1; i < len(a.Words); i++ {
		w := a.Words[i]
		switch {
		case w == "dev" && i+1 < len(a.Words):
			dev = a.Words[i+1]
			i++
		case (w == "label" || w == "brd" || w == "broadcast" || w == "scope") && i+1 < len(a.Words):
			dropped = append(dropped, w+" "+a.Words[i+1])
			i++
		default:
			dropped = append(dropped, w)
		}
	}
	if len(dropped) > 0 {
		t.res.NotMigrated = append(t.res.NotMigrated, Note{a.Line, addr + ": " + strings.Join(dropped, " ") + " (address options appl does not have)"})
		t.printf("%s# not migrated: line %d: %s options %s\n", in, a.Line, oneLine(addr), oneLine(strings.Join(dropped, " ")))
	}
	if dev != "" {
		emit("address %s dev %s", addr, word(dev))
	} else {
		emit("address %s", addr)
	}
}

// hostPart drops a /prefix keepalived tolerates on unicast addresses.
func hostPart(s string) string {
	a, _, _ := strings.Cut(s, "/")
	return a
}

func validPrefix(s string) bool {
	if strings.Contains(s, "/") {
		_, err := netip.ParsePrefix(s)
		return err == nil
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// trackScript turns a track_script entry and its vrrp_script definition into one
// track-script line; the entry's weight overrides the script's, as in keepalived.
func (t *translator) trackScript(in string, s *Node, emit func(string, ...any)) {
	if len(s.Words) != 1 && !(len(s.Words) == 3 && s.Words[1] == "weight") || s.Block {
		t.skip(in, s, "track_script: expected `NAME [weight W]`")
		return
	}
	def := t.scripts[s.Words[0]]
	if def == nil {
		t.skip(in, s, "track_script: no vrrp_script of that name")
		return
	}
	var cmd string
	opts := map[string]string{}
	for _, c := range def.Children {
		switch kw := c.Keyword(); kw {
		case "script":
			if len(c.Words) >= 2 {
				cmd = strings.Join(c.Words[1:], " ")
			}
		case "interval", "timeout", "rise", "fall", "weight":
			if len(c.Words) >= 2 {
				opts[kw] = c.Words[1]
			}
		}
	}
	if len(s.Words) == 3 {
		opts["weight"] = s.Words[2]
	}
	if cmd == "" {
		t.skip(in, s, "track_script: its vrrp_script has no script line")
		return
	}
	line := "track-script " + word(cmd)
	for _, k := range []string{"interval", "timeout", "rise", "fall", "weight"} {
		v, ok := opts[k]
		if !ok {
			continue
		}
		if k == "interval" || k == "timeout" {
			d, ok := dur(v)
			if !ok || d == "0s" {
				continue
			}
			v = d
		}
		line += " " + k + " " + word(v)
	}
	emit("%s", line)
}

// notifyUser reports the words after a notify script: keepalived reads them as the
// username and groupname to run it as (a command with arguments must be quoted there).
func (t *translator) notifyUser(in string, c *Node) {
	if len(c.Words) > 2 {
		t.skip(in, c, "run as user/group "+strings.Join(c.Words[2:], " ")+": appl runs hooks as itself")
	}
}

func (t *translator) group(n *Node) {
	t.res.Groups++
	const in = "    "
	t.printf("\nvrrp-group %s\n", word(n.Words[1]))
	notify := map[string]string{"notify": "notify", "notify_master": "notify-master", "notify_backup": "notify-backup", "notify_fault": "notify-fault"}
	for _, c := range n.Children {
		kw := c.Keyword()
		switch {
		case kw == "group" && c.Block:
			var members []string
			for _, m := range c.Children {
				for _, w := range m.Words {
					members = append(members, word(w))
				}
			}
			if len(members) > 0 {
				t.printf("%smember %s\n", in, strings.Join(members, " "))
			}
		case notify[kw] != "" && len(c.Words) >= 2 && !c.Block:
			t.notifyUser(in, c)
			t.printf("%s%s %s\n", in, notify[kw], word(c.Words[1]))
		default:
			t.skip(in, c, "no appl equivalent in a vrrp-group section")
		}
	}
}

// word quotes s for appl's HAProxy-style lexer: single quotes are literal there, so
// they carry $, \ and # safely; a word holding a single quote gets escaped double quotes.
func word(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t#'\"\\$") {
		return s
	}
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(s) + `"`
}
