package appliance

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	"appl/internal/cfgfile"
)

// DefaultClusterPort is the cluster (Raft, join, forwarding) port when an address is
// given without one; gossip defaults to the next port.
const DefaultClusterPort = 7400

// ClusterConfig is the `cluster` section after the selected node block's overrides:
// where this box's replication listens and whom it asks for admission.
type ClusterConfig struct {
	Pos       cfgfile.Pos
	Bind      string   // ADDR:PORT of the cluster TLS listener
	Advertise string   // what peers dial; "" = Bind
	Gossip    string   // ADDR:PORT of memberlist; default Bind's host, port+1
	Join      []string // members' cluster addresses (own address excluded after Select)
	Witness   string   // the witness's cluster address, also asked for admission
	DataDir   string   // holds cluster/, raft/, snapshots/; default the admin data-dir
}

func decodeCluster(f *cfgfile.File, base string) (*ClusterConfig, cfgfile.Errors) {
	secs := f.SectionsOf("cluster")
	if len(secs) == 0 {
		return nil, nil
	}
	var errs cfgfile.Errors
	c := &ClusterConfig{Pos: secs[0].Pos}
	for i, s := range secs {
		if i > 0 {
			errs = append(errs, &cfgfile.Error{Pos: s.Pos, Directive: "cluster", Msg: fmt.Sprintf("second cluster section (expected one, the first is at %s)", secs[0].Pos)})
			continue
		}
		if s.Name != "" {
			errs = append(errs, &cfgfile.Error{Pos: s.Pos, Directive: "cluster", Msg: "takes no name (expected `cluster` alone)"})
		}
		for j := range s.Lines {
			l := &s.Lines[j]
			args := l.Words[1:]
			bad := func(format string, x ...any) { errs = append(errs, l.Errorf(format, x...)) }
			addr := func() (string, bool) {
				if len(args) != 1 {
					bad("takes exactly one argument (expected ADDR:PORT)")
					return "", false
				}
				if err := checkHostPort(args[0]); err != nil {
					bad("%v (expected ADDR:PORT, e.g. 198.18.0.1:%d)", err, DefaultClusterPort)
					return "", false
				}
				return args[0], true
			}
			switch l.Keyword() {
			case "bind":
				if v, ok := addr(); ok {
					c.Bind = v
				}
			case "advertise":
				if v, ok := addr(); ok {
					c.Advertise = v
				}
			case "gossip":
				if v, ok := addr(); ok {
					c.Gossip = v
				}
			case "witness":
				if v, ok := addr(); ok {
					c.Witness = v
				}
			case "join":
				if len(args) == 0 {
					bad("missing address (expected `join ADDR:PORT...`)")
				}
				for _, a := range args {
					if err := checkHostPort(a); err != nil {
						bad("%v (expected ADDR:PORT)", err)
						continue
					}
					c.Join = append(c.Join, a)
				}
			case "data-dir":
				if len(args) != 1 {
					bad("takes exactly one argument (expected a directory)")
					continue
				}
				c.DataDir = relTo(base, args[0])
			default:
				bad("unknown keyword in the cluster section (expected bind, advertise, gossip, join, witness or data-dir)")
			}
		}
	}
	return c, errs
}

// resolveCluster applies the selected node block (nil without blocks) to the cluster
// section: its addresses, its data dir, and the other blocks' addresses as peers.
func (c *Config) resolveCluster(pick *NodeBlock) error {
	cl := c.Cluster
	if cl == nil {
		return nil
	}
	if pick != nil {
		if pick.ClusterAddr != "" {
			cl.Bind = pick.ClusterAddr
		}
		if pick.ClusterAdvertise != "" {
			cl.Advertise = pick.ClusterAdvertise
		}
		if pick.ClusterGossip != "" {
			cl.Gossip = pick.ClusterGossip
		}
		if pick.DataDir != "" {
			cl.DataDir = pick.DataDir
		}
		for _, n := range c.Nodes {
			if n != pick && n.ClusterAddr != "" {
				cl.Join = append(cl.Join, n.ClusterAdvertiseOrAddr())
			}
		}
	}
	if cl.DataDir == "" {
		cl.DataDir = c.Admin.DataDir
	}
	if cl.Bind == "" {
		where := "the cluster section"
		if pick != nil {
			where = "node " + pick.Name
		}
		return fmt.Errorf("%s: %s: no cluster address for this box (expected `bind ADDR:PORT` in the cluster section or `cluster-addr ADDR:PORT` in its node block)", c.Path, where)
	}
	if cl.Gossip == "" {
		h, p, _ := net.SplitHostPort(cl.Bind)
		n, _ := strconv.Atoi(p)
		cl.Gossip = net.JoinHostPort(h, strconv.Itoa(n+1))
	}
	if cl.Witness != "" {
		cl.Join = append(cl.Join, cl.Witness)
	}
	own := map[string]bool{cl.Bind: true, cl.Advertise: true}
	var join []string
	for _, a := range cl.Join {
		if !own[a] && !slices.Contains(join, a) {
			join = append(join, a)
		}
	}
	cl.Join = join
	return nil
}

// ClusterAdvertiseOrAddr is the address peers dial for this node block.
func (n *NodeBlock) ClusterAdvertiseOrAddr() string {
	if n.ClusterAdvertise != "" {
		return n.ClusterAdvertise
	}
	return n.ClusterAddr
}
