package appliance

import (
	"slices"
	"strings"
	"testing"
)

const clusterCfg = `listen web
    bind 127.0.0.1:8080
    server s1 127.0.0.1:8081
cluster
    witness 198.18.0.3:7400
node lb1
    cluster-addr 198.18.0.1:7400
    data-dir /var/lib/appl-lb1
node lb2
    cluster-addr 198.18.0.2:7400
    cluster-gossip 198.18.0.2:7500
node wit
    cluster-addr 198.18.0.3:7400
`

func TestClusterSectionSelectsPerBox(t *testing.T) {
	c, err := Decode("/etc/appl/appl.cfg", []byte(clusterCfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Select("lb1", ""); err != nil {
		t.Fatal(err)
	}
	cl := c.Cluster
	if cl.Bind != "198.18.0.1:7400" || cl.Gossip != "198.18.0.1:7401" || cl.DataDir != "/var/lib/appl-lb1" {
		t.Fatalf("lb1: %+v", cl)
	}
	if !slices.Equal(cl.Join, []string{"198.18.0.2:7400", "198.18.0.3:7400"}) {
		t.Fatalf("lb1 join: %v (the other blocks and the witness, once, never itself)", cl.Join)
	}
	c2, _ := Decode("/etc/appl/appl.cfg", []byte(clusterCfg))
	if err := c2.Select("lb2", ""); err != nil {
		t.Fatal(err)
	}
	if c2.Cluster.Gossip != "198.18.0.2:7500" || c2.Cluster.DataDir != DefaultDataDir {
		t.Fatalf("lb2: %+v", c2.Cluster)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, "cluster") {
			t.Fatalf("cluster section still reported as not served: %s", w)
		}
	}
}

func TestClusterSectionErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"cluster\n    bind nowhere\n", "/x.cfg:2: "},
		{"cluster\n    join 198.18.0.1:7400 bad\n", "/x.cfg:2: "},
		{"cluster\n    frobnicate\n", "/x.cfg:2: frobnicate: unknown keyword in the cluster section"},
		{"cluster\ncluster\n", "second cluster section"},
		{"cluster\nnode a\n    cluster-addr 1.2.3.4\n", "/x.cfg:3: "},
	} {
		_, err := Decode("/x.cfg", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v (want %q)", c.src, err, c.want)
		}
	}
	// A box without an address of its own is refused at selection.
	cfg, err := Decode("/x.cfg", []byte("cluster\nnode a\nnode b\n    cluster-addr 198.18.0.2:7400\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Select("a", ""); err == nil || !strings.Contains(err.Error(), "no cluster address for this box") {
		t.Fatalf("select a: %v", err)
	}
}
