package replication

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"appl/proxy/stick"
)

// stickStream is the tiny adapter the appliance writes between a stick
// table and replication (kept in a test file: this package must not
// import the proxy).
type stickStream struct{ t *stick.Table }

func (s stickStream) Name() string { return "stick/" + s.t.Name() }

func (s stickStream) ApplyRemote(p []byte) error {
	ds, err := stick.UnmarshalDeltas(p)
	if err != nil {
		return err
	}
	s.t.Apply(ds)
	return nil
}

func (s stickStream) Snapshot(w io.Writer) error { return s.t.Snapshot(w) }
func (s stickStream) Restore(r io.Reader) error  { return s.t.Restore(r) }

type stickSink struct {
	n    func() *Node
	name string
}

func (s stickSink) Deltas(b []stick.Delta) {
	if n := s.n(); n != nil {
		n.Publish(s.name, stick.MarshalDeltas(b))
	}
}

func newStickTable(t testing.TB) *stick.Table {
	def, err := stick.ParseDef([]string{"type", "ip", "size", "100k", "expire", "30m", "store", "conn_cnt,server_id,server_key"})
	if err != nil {
		t.Fatal(err)
	}
	def.EnableServer()
	return stick.New("web", def, stick.Options{})
}

// Sticky clients keep their server through an abrupt kill of the master:
// 2,000 client IPs learn a server on the master; after the kill the
// standby's real stick table names the same server for every one of them.
func TestStickTableSurvivesMasterKill(t *testing.T) {
	for _, witness := range []bool{false, true} {
		t.Run(fmt.Sprintf("witness=%v", witness), func(t *testing.T) {
			c := newClusterWith(t, 2, witness, nil, func(tn *tnode) []Replicated {
				tbl := newStickTable(t)
				tn.extra = tbl
				tbl.SetSink(stickSink{n: tn.ptr.Load, name: "stick/web"}, 512, 5*time.Millisecond)
				t.Cleanup(tbl.Close)
				return []Replicated{stickStream{tbl}}
			})
			master, standby := c.boxes()[0], c.boxes()[1]
			master.n.OnLocalMaster()
			waitFor(t, 10*time.Second, "leadership follows the VRRP master", func() bool { return master.n.IsLeader() })
			mt, st := master.extra.(*stick.Table), standby.extra.(*stick.Table)
			const clients = 2000
			servers := map[netip.Addr]string{}
			for i := range clients {
				a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
				k, ok := mt.AddrKey(a)
				if !ok {
					t.Fatal("key")
				}
				e, err := mt.GetOrCreate(k)
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("srv%d", i%7)
				e.SetServer(i%7+1, name)
				e.CountConn()
				servers[a] = name
			}
			// Acknowledged = committed: the table has flushed every change
			// and the node has nothing waiting or in flight. (The time bound
			// for that is TestLeaderKilledSurvivorHoldsAcknowledged's.) In a
			// pair the standby may not yet know the last entries are
			// committed: it applies its log tail once the leader is gone.
			waitFor(t, 10*time.Second, "master's updates committed", func() bool {
				return mt.Pending() == 0 && master.n.Settled()
			})
			c.kill(master)
			waitFor(t, 10*time.Second, "standby table holds every sticky client", func() bool { return st.Len() >= clients })
			for a, want := range servers {
				k, _ := st.AddrKey(a)
				e := st.Lookup(k)
				if e == nil {
					t.Fatalf("client %v lost", a)
				}
				if _, name := e.Server(); name != want {
					t.Fatalf("client %v sticks to %q on the standby, %q on the master", a, name, want)
				}
			}
			if ds := st.Emitted(); ds != 0 {
				t.Fatalf("standby re-emitted %d applied deltas", ds)
			}
		})
	}
}
