package stats

import (
	"strconv"
	"testing"

	"appl/proxy/config"
)

// bigSource has 50 proxies of 20 servers each.
func bigSource() *fakeSource {
	src := seedSource()
	var pxs []Proxy
	for i := range 50 {
		be := &Backend{Algo: "roundrobin"}
		for j := range 20 {
			be.Servers = append(be.Servers, Server{Name: "srv" + strconv.Itoa(j), Addr: "198.18.0.1:80", State: StateUp, Weight: 1, ConfWeight: 1,
				Check: &Check{Status: "L4OK", Desc: "Layer4 check passed", Health: 3, HealthOf: 3, Rise: 2, Fall: 3}})
		}
		pxs = append(pxs, Proxy{Name: "px" + strconv.Itoa(i), Mode: "http", Frontend: &Frontend{}, Backend: be})
	}
	src.snap.Proxies = pxs
	return src
}

func benchPage(b *testing.B, uri string) {
	cfg := &config.Config{}
	p := New("px0", &config.StatsConfig{URI: "/s", Realm: "r"}, nil, bigSource())
	raw := get(uri, "")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r := do(b, p, cfg, raw, nil)
		n = len(r.body)
	}
	b.ReportMetric(float64(n), "bytes/page")
}

func BenchmarkHTML1000Servers(b *testing.B) { benchPage(b, "/s") }
func BenchmarkCSV1000Servers(b *testing.B)  { benchPage(b, "/s;csv") }

func BenchmarkMetrics1000Servers(b *testing.B) {
	src := bigSource()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendMetrics(nil, src.Snapshot()); err != nil {
			b.Fatal(err)
		}
	}
}
