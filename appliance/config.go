package appliance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"appl/internal/cfgfile"
	"appl/netsetup"
	"appl/proxy/config"
	"appl/proxy/maps"
	"appl/sysctl"
	"appl/vrrp"
)

// Config is a whole configuration file decoded by every owner of a section kind.
type Config struct {
	Path    string
	Hash    string // sha256 of the file's bytes, shown per node so drift is visible
	File    *cfgfile.File
	Proxy   *config.Config
	VRRP    *vrrp.Config     // nil without vrrp/carp sections
	Sysctl  *sysctl.Config   // nil without a sysctl section
	Network *netsetup.Config // nil without a network section
	Admin   AdminConfig      // the admin section (defaults without one)
	Cluster *ClusterConfig   // nil without a cluster section (no replication)
	Nodes   []*NodeBlock     // every node block of the file
	Node    *NodeBlock       // the block Select picked, nil before or without blocks
	// Warnings are printed by `appld -c` and logged at start and reload.
	Warnings []string
}

// notYet are appl section kinds whose owner is not part of this build yet. They are
// reported, never silently ignored.
var notYet = map[string]string{}

// Load reads and decodes a configuration file with the given map store (nil: its own).
func Load(path string, store *maps.Store) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeWith(path, data, store)
}

// Decode decodes configuration bytes named path (used for errors and relative files)
// with a map store of its own.
func Decode(path string, data []byte) (*Config, error) { return DecodeWith(path, data, nil) }

// DecodeWith decodes with the node's map store, so map and pattern files already loaded
// (and edited at run time) are kept rather than re-read.
func DecodeWith(path string, data []byte, store *maps.Store) (*Config, error) {
	f, err := cfgfile.Parse(path, data, cfgfile.Options{})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	c := &Config{Path: path, Hash: hex.EncodeToString(sum[:]), File: f}
	var errs cfgfile.Errors
	collect := func(err error) {
		if err == nil {
			return
		}
		if es := cfgfile.AsErrors(err); es != nil {
			errs = append(errs, es...)
			return
		}
		errs = append(errs, &cfgfile.Error{Pos: cfgfile.Pos{File: path}, Msg: err.Error()})
	}
	for _, n := range f.Notes {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s", n.Pos, joinWords(n.Words)))
	}
	c.Proxy, err = config.Decode(f, config.Options{BaseDir: filepath.Dir(path), Maps: store})
	collect(err)
	if c.Proxy != nil {
		for _, w := range c.Proxy.Warnings {
			c.Warnings = append(c.Warnings, w.Error())
		}
	}
	if len(f.SectionsOf("vrrp")) > 0 || len(f.SectionsOf("carp")) > 0 || len(f.SectionsOf("vrrp-group")) > 0 {
		c.VRRP, err = vrrp.Decode(f)
		collect(err)
	}
	if len(f.SectionsOf("sysctl")) > 0 {
		c.Sysctl, err = sysctl.Decode(f)
		collect(err)
	}
	if len(f.SectionsOf("network")) > 0 {
		c.Network, err = netsetup.Decode(f)
		collect(err)
	}
	var es cfgfile.Errors
	c.Admin, es = decodeAdmin(f, filepath.Dir(path))
	errs = append(errs, es...)
	c.Nodes, es = decodeNodes(f, filepath.Dir(path))
	errs = append(errs, es...)
	c.Cluster, es = decodeCluster(f, filepath.Dir(path))
	errs = append(errs, es...)
	if len(errs) == 0 {
		es, warns := c.crossCheckAdmin()
		errs = append(errs, es...)
		c.Warnings = append(c.Warnings, warns...)
	}
	for _, s := range f.Sections {
		if what, ok := notYet[s.Kind]; ok {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s: section not served by this version yet (%s); its lines are ignored", s.Pos, s.Kind, what))
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func joinWords(w []string) string {
	s := ""
	for i, x := range w {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}

// Empty reports whether the configuration asks for nothing to run.
func (c *Config) Empty() bool {
	return len(c.Proxy.Frontends) == 0 && len(c.Proxy.Backends) == 0 && c.VRRP == nil
}
