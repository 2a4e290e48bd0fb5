package stats

import (
	"bytes"
	"sync"
	"time"

	"appl/proxy/http1"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// The Prometheus endpoint exports the main counters under HAProxy's exporter names
// (haproxy_frontend_*, haproxy_backend_*, haproxy_server_* with labels proxy and
// server), read from one Source snapshot per scrape.

type metric struct {
	name, help string
	typ        prometheus.ValueType
}

func gauge(name, help string) metric   { return metric{name, help, prometheus.GaugeValue} }
func counter(name, help string) metric { return metric{name, help, prometheus.CounterValue} }

// Per-kind metrics, with the value each reads.
var (
	feMetrics = []struct {
		m metric
		v func(*Frontend) float64
	}{
		{gauge("current_sessions", "Number of current sessions on the frontend."), func(f *Frontend) float64 { return float64(f.Cur) }},
		{gauge("max_sessions", "Highest value of current sessions encountered since process started."), func(f *Frontend) float64 { return float64(f.Max) }},
		{gauge("limit_sessions", "Frontend/listener/server's maxconn, 0 when unlimited."), func(f *Frontend) float64 { return float64(f.Limit) }},
		{counter("sessions_total", "Total number of sessions since process started."), func(f *Frontend) float64 { return float64(f.Total) }},
		{gauge("limit_session_rate", "Limit on the number of sessions accepted in a second."), func(f *Frontend) float64 { return float64(f.RateLim) }},
		{gauge("max_session_rate", "Highest value of sessions per second observed since the worker process started."), func(f *Frontend) float64 { return float64(f.RateMax) }},
		{counter("bytes_in_total", "Total number of request bytes since process started."), func(f *Frontend) float64 { return float64(f.BytesIn) }},
		{counter("bytes_out_total", "Total number of response bytes since process started."), func(f *Frontend) float64 { return float64(f.BytesOut) }},
		{counter("requests_denied_total", "Total number of denied requests since process started."), func(f *Frontend) float64 { return float64(f.DeniedReq) }},
		{counter("responses_denied_total", "Total number of denied responses since process started."), func(f *Frontend) float64 { return float64(f.DeniedResp) }},
		{counter("request_errors_total", "Total number of invalid requests since process started."), func(f *Frontend) float64 { return float64(f.ErrReq) }},
		{counter("connections_total", "Total number of new connections accepted since process started."), func(f *Frontend) float64 { return float64(f.Total) }},
		{counter("http_requests_total", "Total number of HTTP requests processed by this object since the worker process started."), func(f *Frontend) float64 { return float64(f.Requests) }},
	}
	beMetrics = []struct {
		m metric
		v func(*Backend) float64
	}{
		{gauge("current_queue", "Number of current queued connections."), func(b *Backend) float64 { return float64(b.Queue) }},
		{gauge("max_queue", "Highest value of queued connections encountered since process started."), func(b *Backend) float64 { return float64(b.QueueMax) }},
		{gauge("current_sessions", "Number of current sessions on the frontend, backend or server."), func(b *Backend) float64 { return float64(b.Cur) }},
		{gauge("max_sessions", "Highest value of current sessions encountered since process started."), func(b *Backend) float64 { return float64(b.Max) }},
		{gauge("limit_sessions", "Frontend/listener/server's maxconn, 0 when unlimited."), func(b *Backend) float64 { return float64(b.Limit) }},
		{counter("sessions_total", "Total number of sessions since process started."), func(b *Backend) float64 { return float64(b.Total) }},
		{counter("bytes_in_total", "Total number of request bytes since process started."), func(b *Backend) float64 { return float64(b.BytesIn) }},
		{counter("bytes_out_total", "Total number of response bytes since process started."), func(b *Backend) float64 { return float64(b.BytesOut) }},
		{counter("requests_denied_total", "Total number of denied requests since process started."), func(b *Backend) float64 { return float64(b.DeniedReq) }},
		{counter("responses_denied_total", "Total number of denied responses since process started."), func(b *Backend) float64 { return float64(b.DeniedResp) }},
		{counter("connection_errors_total", "Total number of failed connections to server since the worker process started."), func(b *Backend) float64 { return float64(b.ErrConn) }},
		{counter("response_errors_total", "Total number of invalid responses since the worker process started."), func(b *Backend) float64 { return float64(b.ErrRsp) }},
		{counter("retry_warnings_total", "Total number of server connection retries since the worker process started."), func(b *Backend) float64 { return float64(b.Retries) }},
		{counter("redispatch_warnings_total", "Total number of server redispatches due to connection failures since the worker process started."), func(b *Backend) float64 { return float64(b.Redispatches) }},
		{gauge("active_servers", "Total number of active UP servers with a non-zero weight."), func(b *Backend) float64 { a, _ := b.Up(); return float64(a) }},
		{gauge("backup_servers", "Total number of backup UP servers with a non-zero weight."), func(b *Backend) float64 { _, k := b.Up(); return float64(k) }},
		{gauge("weight", "Server's effective weight, or sum of active servers' effective weights for a backend."), func(b *Backend) float64 { w, _ := b.weight(); return float64(w) }},
		{counter("downtime_seconds_total", "Total time spent in DOWN state, for server or backend."), func(b *Backend) float64 { return b.Downtime.Seconds() }},
		{counter("check_up_down_total", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started."), func(b *Backend) float64 { return float64(b.Downs) }},
		{counter("loadbalanced_total", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)."), func(b *Backend) float64 { return float64(b.Total) }},
		{counter("http_requests_total", "Total number of HTTP requests processed by this object since the worker process started."), func(b *Backend) float64 { return float64(b.Requests) }},
	}
	svMetrics = []struct {
		m metric
		v func(*Server) float64
	}{
		{gauge("current_queue", "Number of current queued connections."), func(s *Server) float64 { return float64(s.Queue) }},
		{gauge("max_queue", "Highest value of queued connections encountered since process started."), func(s *Server) float64 { return float64(s.QueueMax) }},
		{gauge("current_sessions", "Number of current sessions on the frontend, backend or server."), func(s *Server) float64 { return float64(s.Cur) }},
		{gauge("max_sessions", "Highest value of current sessions encountered since process started."), func(s *Server) float64 { return float64(s.Max) }},
		{gauge("limit_sessions", "Frontend/listener/server's maxconn, 0 when unlimited."), func(s *Server) float64 { return float64(s.Limit) }},
		{counter("sessions_total", "Total number of sessions since process started."), func(s *Server) float64 { return float64(s.Total) }},
		{counter("bytes_in_total", "Total number of request bytes since process started."), func(s *Server) float64 { return float64(s.BytesIn) }},
		{counter("bytes_out_total", "Total number of response bytes since process started."), func(s *Server) float64 { return float64(s.BytesOut) }},
		{counter("connection_errors_total", "Total number of failed connections to server since the worker process started."), func(s *Server) float64 { return float64(s.ErrConn) }},
		{counter("response_errors_total", "Total number of invalid responses since the worker process started."), func(s *Server) float64 { return float64(s.ErrRsp) }},
		{counter("retry_warnings_total", "Total number of server connection retries since the worker process started."), func(s *Server) float64 { return float64(s.Retries) }},
		{counter("redispatch_warnings_total", "Total number of server redispatches due to connection failures since the worker process started."), func(s *Server) float64 { return float64(s.Redispatches) }},
		{gauge("weight", "Server's effective weight, or sum of active servers' effective weights for a backend."), func(s *Server) float64 { return float64(s.Weight) }},
		{gauge("uweight", "Server's user weight, or sum of active servers' user weights for a backend."), func(s *Server) float64 { return float64(s.ConfWeight) }},
		{counter("downtime_seconds_total", "Total time spent in DOWN state, for server or backend."), func(s *Server) float64 { return s.Downtime.Seconds() }},
		{gauge("queue_limit", "Limit on the number of connections in queue, for servers only (maxqueue argument)."), func(s *Server) float64 { return float64(s.QueueLimit) }},
		{counter("loadbalanced_total", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)."), func(s *Server) float64 { return float64(s.Total) }},
		{counter("check_failures_total", "Total number of failed individual health checks per server/backend, since the worker process started."), func(s *Server) float64 {
			if s.Check == nil {
				return 0
			}
			return float64(s.Check.Failures)
		}},
		{counter("check_up_down_total", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started."), func(s *Server) float64 {
			if s.Check == nil {
				return 0
			}
			return float64(s.Check.Downs)
		}},
		{gauge("check_duration_seconds", "Total duration of the latest server health check, in seconds."), func(s *Server) float64 {
			if s.Check == nil {
				return 0
			}
			return s.Check.Duration.Seconds()
		}},
	}
)

// Label values of the *_status gauges, as HAProxy's exporter prints them.
var (
	proxyStates  = []string{"DOWN", "UP"}
	serverStates = []string{"DOWN", "UP", "MAINT", "DRAIN", "NOLB"}
)

// collector turns one snapshot into constant metrics.
type collector struct{ snap *Snapshot }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	// Unchecked collector: the set of proxies changes with the configuration.
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	emit := func(prefix string, m metric, labels []string, values []string, v float64) {
		ch <- prometheus.MustNewConstMetric(desc("haproxy_"+prefix+"_"+m.name, m.help, labels), m.typ, v, values...)
	}
	lp := []string{"proxy"}
	ls := []string{"proxy", "server"}
	for i := range c.snap.Proxies {
		px := &c.snap.Proxies[i]
		if fe := px.Frontend; fe != nil {
			for _, x := range feMetrics {
				emit("frontend", x.m, lp, []string{px.Name}, x.v(fe))
			}
			up := 1.0
			if fe.Disabled {
				up = 0
			}
			st := gauge("status", "Current status of the service.")
			ls2 := []string{"proxy", "state"}
			emit("frontend", st, ls2, []string{px.Name, "DOWN"}, 1-up)
			emit("frontend", st, ls2, []string{px.Name, "UP"}, up)
		}
		be := px.Backend
		if be == nil {
			continue
		}
		for _, x := range beMetrics {
			emit("backend", x.m, lp, []string{px.Name}, x.v(be))
		}
		bst := be.StatusText()
		for _, s := range proxyStates {
			emit("backend", gauge("status", "Current status of the service."), []string{"proxy", "state"}, []string{px.Name, s}, b2f(bst == s))
		}
		for j := range be.Servers {
			sv := &be.Servers[j]
			for _, x := range svMetrics {
				emit("server", x.m, ls, []string{px.Name, sv.Name}, x.v(sv))
			}
			for _, s := range serverStates {
				emit("server", gauge("status", "Current status of the service, per state label value."),
					[]string{"proxy", "server", "state"}, []string{px.Name, sv.Name, s}, b2f(string(sv.State) == s))
			}
			if !sv.LastChange.IsZero() {
				emit("server", gauge("check_last_change_seconds", "How long ago the last server state change happened, in seconds."),
					ls, []string{px.Name, sv.Name}, c.snap.Now.Sub(sv.LastChange).Truncate(time.Second).Seconds())
			}
		}
	}
}

// descs caches descriptors by metric name: each name has one label set, and building a
// Desc validates names, which a scrape of a thousand servers would redo 25,000 times.
var descs sync.Map // string -> *prometheus.Desc

func desc(name, help string, labels []string) *prometheus.Desc {
	if d, ok := descs.Load(name); ok {
		return d.(*prometheus.Desc)
	}
	d, _ := descs.LoadOrStore(name, prometheus.NewDesc(name, help, labels, nil))
	return d.(*prometheus.Desc)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// AppendMetrics appends the Prometheus text exposition of a snapshot.
func AppendMetrics(dst []byte, s *Snapshot) ([]byte, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collector{snap: s}); err != nil {
		return dst, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return dst, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return dst, err
		}
	}
	return append(dst, buf.Bytes()...), nil
}

// prometheus answers the exporter's request.
func (p *Page) prometheus(dst []byte, req *http1.Request) []byte {
	body, err := AppendMetrics(nil, p.snapshot())
	if err != nil {
		return appendSimple(dst, 500, "Internal Server Error", "text/plain", "metrics: "+err.Error()+"\n", false)
	}
	return appendSimple(dst, 200, "OK", string(expfmt.NewFormat(expfmt.TypeTextPlain)), string(body), req.IsMethod("HEAD"))
}
