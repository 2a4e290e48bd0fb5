package appliance

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"appl/internal/cfgfile"
)

// DefaultAdminSocket is where the admin API listens when the admin section names no
// socket (and there is no admin section at all).
const DefaultAdminSocket = "/run/appl/admin.sock"

// DefaultDataDir holds state a node generates for itself (the self-signed admin
// certificate).
const DefaultDataDir = "/var/lib/appl"

// AdminConfig is the `admin` section, after the selected node block's overrides.
type AdminConfig struct {
	Socket  string // unix socket, mode 0600
	Bind    string // HTTPS ADDR:PORT, "" for none
	Crt     string // certificate and key files; both empty: self-signed into DataDir
	Key     string
	CA      string // verifies the peer's certificate; "" trusts the token alone
	DataDir string
	Token   string // HTTPS bearer token; never logged
	Peer    string // the other node's admin ADDR:PORT, "" for none
	Checks  []Check
}

// Check is a `check NAME backend BK [min-up N]` line: a built-in check that VRRP tracks
// with `track-check NAME`. It passes while at least MinUp servers of the backend are up.
type Check struct {
	Name    string
	Backend string
	MinUp   int
	Pos     cfgfile.Pos
}

// NodeBlock is a `node NAME` section: what differs on one box.
type NodeBlock struct {
	Name       string
	Pos        cfgfile.Pos
	Hostnames  []string       // `hostname H...`; none: the block's name is the hostname
	Priorities map[string]int // `priority INSTANCE P`
	Admin      string         // `admin-addr ADDR:PORT`: this node's HTTPS admin address
	Peer       string         // `peer ADDR:PORT`: the other node's admin address
	Socket     string         // `socket PATH`
	DataDir    string         // `data-dir PATH`
	// cluster-addr, cluster-advertise, cluster-gossip: this box's replication addresses.
	ClusterAddr, ClusterAdvertise, ClusterGossip string
}

func decodeAdmin(f *cfgfile.File, base string) (AdminConfig, cfgfile.Errors) {
	a := AdminConfig{Socket: DefaultAdminSocket, DataDir: DefaultDataDir}
	var errs cfgfile.Errors
	secs := f.SectionsOf("admin")
	for i, s := range secs {
		if i > 0 {
			errs = append(errs, &cfgfile.Error{Pos: s.Pos, Directive: "admin", Msg: fmt.Sprintf("second admin section (expected one, the first is at %s)", secs[0].Pos)})
			continue
		}
		if s.Name != "" {
			errs = append(errs, &cfgfile.Error{Pos: s.Pos, Directive: "admin", Msg: "takes no name (expected `admin` alone)"})
		}
		var tokenLine *cfgfile.Line
		names := map[string]cfgfile.Pos{}
		for j := range s.Lines {
			l := &s.Lines[j]
			args := l.Words[1:]
			bad := func(format string, x ...any) { errs = append(errs, l.Errorf(format, x...)) }
			one := func(what string) (string, bool) {
				if len(args) != 1 {
					bad("takes exactly one argument (expected %s)", what)
					return "", false
				}
				return args[0], true
			}
			switch l.Keyword() {
			case "socket":
				if v, ok := one("a unix socket path"); ok {
					a.Socket = v
				}
			case "bind":
				if v, ok := one("ADDR:PORT for HTTPS"); ok {
					if err := checkHostPort(v); err != nil {
						bad("%v (expected ADDR:PORT, e.g. 198.18.0.1:9443)", err)
					}
					a.Bind = v
				}
			case "crt", "key", "ca", "data-dir":
				v, ok := one("a file or directory path")
				if !ok {
					continue
				}
				v = relTo(base, v)
				switch l.Keyword() {
				case "crt":
					a.Crt = v
				case "key":
					a.Key = v
				case "ca":
					a.CA = v
				case "data-dir":
					a.DataDir = v
				}
			case "token":
				if v, ok := one("a secret of at least 16 characters"); ok {
					a.Token, tokenLine = v, l
				}
			case "token-file":
				v, ok := one("a file holding the token")
				if !ok {
					continue
				}
				b, err := os.ReadFile(relTo(base, v))
				if err != nil {
					bad("cannot read the token file: %v", err)
					continue
				}
				a.Token, tokenLine = strings.TrimSpace(string(b)), l
			case "peer":
				if v, ok := one("the other node's admin ADDR:PORT"); ok {
					if err := checkHostPort(v); err != nil {
						bad("%v (expected ADDR:PORT)", err)
					}
					a.Peer = v
				}
			case "check":
				c, ok := decodeCheck(l)
				if !ok {
					bad("bad arguments (expected `check NAME backend BACKEND [min-up N]`, N at least 1)")
					continue
				}
				if p, dup := names[c.Name]; dup {
					bad("check %q already defined at %s", c.Name, p)
					continue
				}
				names[c.Name] = l.Pos
				a.Checks = append(a.Checks, c)
			default:
				bad("unknown keyword in the admin section (expected socket, bind, crt, key, ca, data-dir, token, token-file, peer or check)")
			}
		}
		if tokenLine != nil && len(a.Token) < 16 {
			// The line is named, never the token itself.
			errs = append(errs, tokenLine.Errorf("token too short (expected at least 16 characters)"))
		}
		if (a.Crt == "") != (a.Key == "") {
			errs = append(errs, &cfgfile.Error{Pos: s.Pos, Directive: "admin", Msg: "crt and key go together (expected both, or neither for a self-signed certificate)"})
		}
	}
	return a, errs
}

func decodeCheck(l *cfgfile.Line) (Check, bool) {
	w := l.Words[1:]
	c := Check{MinUp: 1, Pos: l.Pos}
	if len(w) != 3 && len(w) != 5 || w[1] != "backend" {
		return c, false
	}
	c.Name, c.Backend = w[0], w[2]
	if len(w) == 5 {
		n, err := strconv.Atoi(w[4])
		if w[3] != "min-up" || err != nil || n < 1 {
			return c, false
		}
		c.MinUp = n
	}
	return c, true
}

func decodeNodes(f *cfgfile.File, base string) ([]*NodeBlock, cfgfile.Errors) {
	var out []*NodeBlock
	var errs cfgfile.Errors
	seen := map[string]cfgfile.Pos{}
	for _, s := range f.SectionsOf("node") {
		head := cfgfile.Line{Pos: s.Pos, Words: []string{"node"}}
		if s.Name == "" {
			errs = append(errs, head.Errorf("missing name (expected `node NAME`)"))
			continue
		}
		if len(s.Args) > 0 {
			errs = append(errs, head.Errorf("unexpected words after the name %q (expected `node NAME`)", s.Name))
		}
		if p, dup := seen[s.Name]; dup {
			errs = append(errs, head.Errorf("node %q already defined at %s", s.Name, p))
			continue
		}
		seen[s.Name] = s.Pos
		n := &NodeBlock{Name: s.Name, Pos: s.Pos, Priorities: map[string]int{}}
		for j := range s.Lines {
			l := &s.Lines[j]
			args := l.Words[1:]
			bad := func(format string, x ...any) { errs = append(errs, l.Errorf(format, x...)) }
			switch l.Keyword() {
			case "hostname":
				if len(args) == 0 {
					bad("missing name (expected `hostname NAME...`)")
				}
				n.Hostnames = append(n.Hostnames, args...)
			case "priority":
				if len(args) != 2 {
					bad("bad arguments (expected `priority INSTANCE P`, P from 1 to 255)")
					continue
				}
				p, err := strconv.Atoi(args[1])
				if err != nil || p < 1 || p > 255 {
					bad("invalid priority %q (expected an integer from 1 to 255)", args[1])
					continue
				}
				n.Priorities[args[0]] = p
			case "admin-addr", "peer":
				if len(args) != 1 {
					bad("takes exactly one argument (expected ADDR:PORT)")
					continue
				}
				if err := checkHostPort(args[0]); err != nil {
					bad("%v (expected ADDR:PORT)", err)
				}
				if l.Keyword() == "admin-addr" {
					n.Admin = args[0]
				} else {
					n.Peer = args[0]
				}
			case "cluster-addr", "cluster-advertise", "cluster-gossip":
				if len(args) != 1 {
					bad("takes exactly one argument (expected ADDR:PORT)")
					continue
				}
				if err := checkHostPort(args[0]); err != nil {
					bad("%v (expected ADDR:PORT)", err)
					continue
				}
				switch l.Keyword() {
				case "cluster-addr":
					n.ClusterAddr = args[0]
				case "cluster-advertise":
					n.ClusterAdvertise = args[0]
				default:
					n.ClusterGossip = args[0]
				}
			case "socket", "data-dir":
				if len(args) != 1 {
					bad("takes exactly one argument (expected a path)")
					continue
				}
				if l.Keyword() == "socket" {
					n.Socket = args[0]
				} else {
					n.DataDir = relTo(base, args[0])
				}
			default:
				bad("unknown keyword in a node block (expected hostname, priority, admin-addr, peer, socket, data-dir, cluster-addr, cluster-advertise or cluster-gossip)")
			}
		}
		out = append(out, n)
	}
	return out, errs
}

// crossCheckAdmin validates what spans sections: priorities name VRRP instances, checks
// name backends, and track-check names that no check feeds are warned about.
func (c *Config) crossCheckAdmin() (cfgfile.Errors, []string) {
	var errs cfgfile.Errors
	var warns []string
	inst := map[string]bool{}
	tracked := map[string]string{}
	if c.VRRP != nil {
		for _, in := range c.VRRP.Instances {
			inst[in.Name] = true
			for _, t := range in.TrackChecks {
				tracked[t.Name] = in.Name
			}
		}
	}
	for _, n := range c.Nodes {
		for name := range n.Priorities {
			if !inst[name] {
				errs = append(errs, &cfgfile.Error{Pos: n.Pos, Directive: "priority", Msg: fmt.Sprintf("node %s: no vrrp instance %q (expected one of: %s)", n.Name, name, keys(inst))})
			}
		}
	}
	checks := map[string]bool{}
	for _, ch := range c.Admin.Checks {
		checks[ch.Name] = true
		if c.Proxy != nil && c.Proxy.Backend(ch.Backend) == nil {
			errs = append(errs, &cfgfile.Error{Pos: ch.Pos, Directive: "check", Msg: fmt.Sprintf("no backend %q (expected a backend or listen section name)", ch.Backend)})
		}
	}
	for name, in := range tracked {
		if !checks[name] {
			warns = append(warns, fmt.Sprintf("vrrp %s: track-check %s is fed by nothing (no `check %s backend ...` line in the admin section); it always counts as passing", in, name, name))
		}
	}
	if c.Admin.Bind != "" && c.Admin.Token == "" {
		errs = append(errs, &cfgfile.Error{Pos: cfgfile.Pos{File: c.Path}, Directive: "admin", Msg: "an HTTPS bind needs a token (expected `token` or `token-file` in the admin section)"})
	}
	slices.Sort(warns)
	return errs, warns
}

func keys(m map[string]bool) string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	if len(k) == 0 {
		return "none defined"
	}
	slices.Sort(k)
	return strings.Join(k, ", ")
}

func checkHostPort(s string) error {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("invalid address %q", s)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port in %q", s)
	}
	if h == "" {
		return fmt.Errorf("missing host in %q", s)
	}
	return nil
}

func relTo(base, p string) string {
	if p == "" || filepath.IsAbs(p) || base == "" {
		return p
	}
	return filepath.Join(base, p)
}

// Select picks this box's node block — by name when name is given (`appld --node`), else
// by hostname — and applies its overrides. A file without node blocks needs none. It is
// called once per decoded configuration, by appld at start and on every reload.
func (c *Config) Select(name, hostname string) error {
	if len(c.Nodes) == 0 {
		if name != "" {
			return fmt.Errorf("%s: --node %s given but the file has no `node` blocks", c.Path, name)
		}
		return c.resolveCluster(nil)
	}
	var pick *NodeBlock
	for _, n := range c.Nodes {
		if name != "" {
			if n.Name == name {
				pick = n
			}
			continue
		}
		if matchesHost(n, hostname) {
			if pick != nil {
				return fmt.Errorf("%s: host %q matches two node blocks, %s (line %d) and %s (line %d) (expected one; start appld with --node NAME)",
					c.Path, hostname, pick.Name, pick.Pos.Line, n.Name, n.Pos.Line)
			}
			pick = n
		}
	}
	if pick == nil {
		var have []string
		for _, n := range c.Nodes {
			have = append(have, fmt.Sprintf("%s (line %d)", n.Name, n.Pos.Line))
		}
		if name != "" {
			return fmt.Errorf("%s: no `node %s` block (the file has: %s)", c.Path, name, strings.Join(have, ", "))
		}
		return fmt.Errorf("%s: no `node` block for this host %q (the file has: %s; expected a block named after the host, a `hostname %s` line in one, or appld --node NAME)",
			c.Path, hostname, strings.Join(have, ", "), hostname)
	}
	c.Node = pick
	if c.VRRP != nil {
		for i, in := range c.VRRP.Instances {
			if p, ok := pick.Priorities[in.Name]; ok {
				cp := *in
				cp.Priority = p
				c.VRRP.Instances[i] = &cp
			}
		}
	}
	if pick.Admin != "" {
		c.Admin.Bind = pick.Admin
	}
	if pick.Socket != "" {
		c.Admin.Socket = pick.Socket
	}
	if pick.DataDir != "" {
		c.Admin.DataDir = pick.DataDir
	}
	switch {
	case pick.Peer != "":
		c.Admin.Peer = pick.Peer
	case c.Admin.Peer == "":
		// With two blocks, the peer is the other block's admin address.
		var others []string
		for _, n := range c.Nodes {
			if n != pick && n.Admin != "" {
				others = append(others, n.Admin)
			}
		}
		if len(others) == 1 {
			c.Admin.Peer = others[0]
		}
	}
	if c.Admin.Bind != "" && c.Admin.Token == "" {
		return fmt.Errorf("%s: node %s: an HTTPS admin address needs a token (expected `token` or `token-file` in the admin section)", c.Path, pick.Name)
	}
	return c.resolveCluster(pick)
}

func matchesHost(n *NodeBlock, hostname string) bool {
	short, _, _ := strings.Cut(hostname, ".")
	if len(n.Hostnames) == 0 {
		return n.Name == hostname || n.Name == short
	}
	for _, h := range n.Hostnames {
		hs, _, _ := strings.Cut(h, ".")
		// A full name must match in full; a short one matches the host's first label.
		if h == hostname || (h == hs && h == short) || (hostname == short && hs == short) {
			return true
		}
	}
	return false
}

// NodeName is the selected node block's name, or the hostname without blocks.
func (c *Config) NodeName() string {
	if c.Node != nil {
		return c.Node.Name
	}
	return hostname()
}
