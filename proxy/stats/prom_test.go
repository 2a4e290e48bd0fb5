package stats

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"appl/proxy/config"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func parseMetrics(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, text)
	}
	return mfs
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range mf.Metric {
		for _, lp := range m.Label {
			if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func TestPrometheusEndpoint(t *testing.T) {
	cfg := loadString(t, `listen stats
 mode http
 bind 127.0.0.1:1
 http-request use-service prometheus-exporter if { path /metrics }
 stats uri /
`)
	src := seedSource()
	be := cfg.Backend("stats")
	p := New("stats", be.Stats, be.Prometheus, src)
	r := do(t, p, cfg, get("/metrics", ""), nil)
	if r.status != 200 || !strings.HasPrefix(r.header("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %q", r.status, r.head)
	}
	mfs := parseMetrics(t, r.body)
	fe := map[string]string{"proxy": "haproxy_10.2.2.5_80"}
	s1 := map[string]string{"proxy": "haproxy_10.2.2.5_80", "server": "http_srv-1"}
	s2 := map[string]string{"proxy": "haproxy_10.2.2.5_80", "server": "http_srv-2"}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"haproxy_frontend_current_sessions", fe, 4},
		{"haproxy_frontend_sessions_total", fe, 80},
		{"haproxy_frontend_bytes_out_total", fe, 10000},
		{"haproxy_frontend_requests_denied_total", fe, 1},
		{"haproxy_backend_current_sessions", fe, 4},
		{"haproxy_backend_active_servers", fe, 1},
		{"haproxy_backend_status", map[string]string{"proxy": "haproxy_10.2.2.5_80", "state": "UP"}, 1},
		{"haproxy_server_current_sessions", s1, 2},
		{"haproxy_server_status", map[string]string{"proxy": "haproxy_10.2.2.5_80", "server": "http_srv-1", "state": "UP"}, 1},
		{"haproxy_server_status", map[string]string{"proxy": "haproxy_10.2.2.5_80", "server": "http_srv-2", "state": "DOWN"}, 1},
		{"haproxy_server_status", map[string]string{"proxy": "haproxy_10.2.2.5_80", "server": "http_srv-2", "state": "UP"}, 0},
		{"haproxy_server_check_failures_total", s2, 4},
		{"haproxy_server_weight", s1, 1},
	}
	for _, c := range checks {
		if v := value(t, mfs, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	// Every name appl exports is one haproxy 2.6's exporter exports too (testdata holds
	// a scrape of haproxy 2.6.12), with the same type.
	f, err := os.Open("testdata/haproxy-2.6.12-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	theirs := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w := strings.Fields(sc.Text()); len(w) == 4 && w[1] == "TYPE" {
			theirs[w[2]] = w[3]
		}
	}
	if len(theirs) < 100 {
		t.Fatalf("read %d haproxy metric names", len(theirs))
	}
	for name, mf := range mfs {
		typ, ok := theirs[name]
		if !ok {
			t.Errorf("%s is not a name haproxy exports", name)
			continue
		}
		if !strings.EqualFold(typ, mf.GetType().String()) {
			t.Errorf("%s is a %s, haproxy says %s", name, mf.GetType(), typ)
		}
	}
	// The stats page itself still answers its own URI.
	if r := do(t, p, cfg, get("/", ""), nil); r.status != 200 || !strings.Contains(r.body, "<html>") {
		t.Errorf("page: %d", r.status)
	}
	// A Prometheus-only proxy declines other requests.
	po := New("x", nil, be.Prometheus, src)
	if r := do(t, po, cfg, get("/other", ""), nil); r.handled {
		t.Errorf("prometheus-only page answered /other")
	}
	if New("x", nil, nil, src) != nil {
		t.Errorf("a proxy without page or exporter got one")
	}
}

// A real-world stats listen (Roxy-WI's template): Prometheus on /metrics next to an
// authenticated stats page with `stats admin if TRUE`.
func TestCorpusRoxyWIStatsListen(t *testing.T) {
	path := "../../../shared/corpus/haproxy/roxywi-peers-prometheus.cfg"
	if _, err := os.Stat(path); err != nil {
		t.Skip("corpus not available: ", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	be := cfg.Backend("stats")
	p := New("stats", be.Stats, be.Prometheus, seedSource())
	if r := do(t, p, cfg, get("/metrics", ""), nil); r.status != 200 || len(parseMetrics(t, r.body)) < 20 {
		t.Fatalf("/metrics: %d", r.status)
	}
	r := do(t, p, cfg, get("/stats", ""), nil)
	if r.status != 401 || r.header("WWW-Authenticate") != `Basic realm="HAProxy-04 Statistics"` {
		t.Fatalf("/stats: %d %q", r.status, r.head)
	}
	r = do(t, p, cfg, get("/stats", basic("admin", "password")), nil)
	if r.status != 200 || !strings.Contains(r.body, `name="action"`) {
		t.Fatalf("/stats as admin: %d", r.status)
	}
}
