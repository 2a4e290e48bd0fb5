package tcprules

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"appl/proxy/stick"
)

// Rules are shared read-only by concurrent connections; every counter adds up.
func TestConcurrentConnections(t *testing.T) {
	ts := NewTables(stick.Options{Now: newClock().Now})
	e := mustCompile(t, ts, t.TempDir(), `
frontend fe
    bind :1
    stick-table type ip size 1k expire 1m store conn_cnt,conn_cur,sess_cnt
    tcp-request connection track-sc0 src
backend be
    stick-table type ip size 1k expire 1m store conn_cnt,conn_cur
    stick on src
`)
	fe, be := e.rules["fe"], e.rules["be"]
	const workers, each = 4, 500
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := NewSession()
			for i := 0; i < each; i++ {
				s.Reset(ap(fmt.Sprintf("198.18.3.%d:%d", i%8, 1000+w)), ap("198.18.0.1:80"))
				fe.Connection(s)
				fe.Session(s)
				if _, _, ok := be.StickServer(s, nil); !ok {
					be.StickStore(s, 1, "a")
				} else {
					be.StickStore(s, 1, "a")
				}
				s.Close(0, 0)
			}
		}(w)
	}
	wg.Wait()
	for _, tb := range []*stick.Table{fe.Table(), be.Table()} {
		total := uint64(0)
		for _, v := range tb.Dump(stick.Filter{}) {
			for _, d := range v.Data {
				switch d.Type {
				case stick.DataConnCnt:
					total += d.Value
				case stick.DataConnCur:
					if d.Value != 0 {
						t.Errorf("%s %s: conn_cur=%d after every close", tb.Name(), v.KeyText, d.Value)
					}
				}
			}
			if v.Use != 0 {
				t.Errorf("%s %s: use=%d after every close", tb.Name(), v.KeyText, v.Use)
			}
		}
		if total != workers*each {
			t.Errorf("%s: conn_cnt sums to %d, want %d\n%s", tb.Name(), total, workers*each, strings.TrimSpace(showTable(t, tb)))
		}
	}
}
