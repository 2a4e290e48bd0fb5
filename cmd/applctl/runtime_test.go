package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"appl/appliance/admin"
)

// runtimeNode is an admin.Target that records the runtime lines it is sent and
// answers from a table.
type runtimeNode struct {
	mu      sync.Mutex
	lines   []string
	answers map[string]string
}

func (n *runtimeNode) Status() admin.NodeStatus                { return admin.NodeStatus{} }
func (n *runtimeNode) Demote(bool) error                       { return nil }
func (n *runtimeNode) Reload() admin.ReloadResult              { return admin.ReloadResult{} }
func (n *runtimeNode) CheckConfig([]byte) admin.ReloadResult   { return admin.ReloadResult{} }
func (n *runtimeNode) Subscribe() (<-chan admin.Event, func()) { return nil, func() {} }
func (n *runtimeNode) Runtime(line string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, line)
	return n.answers[line]
}

// applctl map and table become runtime API lines on the node's admin socket (arguments
// escaped for its word splitter); a write that answers anything fails with that answer.
func TestMapAndTableCommands(t *testing.T) {
	node := &runtimeNode{answers: map[string]string{
		"show map ./map":        "0x1 10.0.0.1 bk_a\n\n",
		"add map ./map nope be": "'add map' failed: no such map.\n\n",
		"show table":            "# table: t, type: ip, size:100, used:0\n\n",
	}}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	l, err := admin.ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.New(node, admin.Options{}).Handler()}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	for _, c := range []struct {
		args     []string
		code     int
		line     string // sent to the node; "" = nothing sent
		out, err string
	}{
		{[]string{"map", "show", "./map"}, 0, "show map ./map", "0x1 10.0.0.1 bk_a", ""},
		{[]string{"map", "add", "./map", "10.0.0.2", "bk b;x\\"}, 0, `add map ./map 10.0.0.2 bk\ b\;x\\`, "", ""},
		{[]string{"map", "add", "./map", "nope", "be"}, 1, "add map ./map nope be", "", "no such map"},
		{[]string{"map", "del", "./map", "10.0.0.2"}, 0, "del map ./map 10.0.0.2", "", ""},
		{[]string{"map", "clear", "./map"}, 0, "clear map ./map", "", ""},
		{[]string{"map", "add", "./map", "only-key"}, 2, "", "", "usage: applctl map"},
		{[]string{"map", "drop", "./map"}, 2, "", "", "usage: applctl map"},
		{[]string{"table", "show"}, 0, "show table", "# table: t", ""},
		{[]string{"table", "set", "t", "10.0.0.9", "data.gpc0", "5"}, 0, "set table t key 10.0.0.9 data.gpc0 5", "", ""},
		{[]string{"table", "clear", "t", "10.0.0.9"}, 0, "clear table t key 10.0.0.9", "", ""},
		{[]string{"table", "clear", "t"}, 0, "clear table t", "", ""},
		{[]string{"table", "set", "t"}, 2, "", "", "usage: applctl table"},
	} {
		node.mu.Lock()
		sent := len(node.lines)
		node.mu.Unlock()
		code, out, errOut := runCLI(append([]string{"-s", sock}, c.args...)...)
		node.mu.Lock()
		var got string
		if len(node.lines) > sent {
			got = node.lines[len(node.lines)-1]
		}
		node.mu.Unlock()
		if code != c.code || got != c.line || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
			t.Errorf("applctl %s: exit %d, sent %q, out %q, err %q; want exit %d, sent %q, out ~%q, err ~%q",
				strings.Join(c.args, " "), code, got, out, errOut, c.code, c.line, c.out, c.err)
		}
	}
}
