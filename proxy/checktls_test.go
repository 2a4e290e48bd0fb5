package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appl/proxy/proxyproto"
	"appl/proxy/stats"
	"appl/proxy/tlsconf/tlstest"
)

// tlsHealthServer is an HTTPS server with a certificate for srv.example issued by ca:
// /health answers a settable code; every request records whether it came over TLS
// and with which SNI.
type tlsHealthServer struct {
	*httptest.Server
	code   atomic.Int32
	checks atomic.Int32 // /health requests, all over TLS (the server speaks nothing else)
	mu     sync.Mutex
	snis   map[string]int
}

func newTLSHealthServer(t *testing.T, ca *tlstest.CA) *tlsHealthServer {
	h := &tlsHealthServer{snis: map[string]int{}}
	h.code.Store(200)
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && r.TLS != nil {
			h.checks.Add(1)
			w.WriteHeader(int(h.code.Load()))
			return
		}
		io.WriteString(w, "hello")
	}))
	h.TLS = &tls.Config{
		Certificates: []tls.Certificate{certFrom(t, ca, "srv.example", "srv.example")},
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			h.mu.Lock()
			h.snis[hi.ServerName]++
			h.mu.Unlock()
			return nil, nil
		},
	}
	h.StartTLS()
	t.Cleanup(h.Close)
	return h
}

func (h *tlsHealthServer) addr() string { return h.Listener.Addr().String() }

func (h *tlsHealthServer) sniCount(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snis[name]
}

// Health checks over TLS through the real data plane: an ssl server is checked over
// TLS by default (L6OK), verify required with the wrong CA takes it down as L6RSP,
// httpchk runs over TLS (and a 503 over TLS takes the server down), check-ssl on a
// server without ssl, no-check-ssl and a check port keep plain checks, check-sni is
// sent and verified. Statuses and wording are haproxy 2.6's, measured against it.
func TestTLSHealthChecks(t *testing.T) {
	dir := t.TempDir()
	ca, wrong := tlstest.NewCA(t, "back"), tlstest.NewCA(t, "wrong")
	ca.WriteCA(t, dir, "ca.pem")
	wrong.WriteCA(t, dir, "wrong.pem")
	good := newTLSHealthServer(t, ca)
	sick := newTLSHealthServer(t, ca)
	sick.code.Store(503)
	plain := startBackend(t, "plain", "") // a plain TCP server: a TLS check fails on it

	// inter bounds the whole check, handshake included: 1s leaves room for a dozen
	// handshakes on a loaded machine under -race (100ms gave spurious L6TOUTs).
	const chk = "check inter 1s rise 1 fall 1"
	p, logs := startProxy(t, loadTLSCfg(t, dir, `
defaults
 mode http
 timeout connect 3s
 timeout client 5s
 timeout server 5s
frontend fe
 bind `+freeAddr(t)+`
 default_backend l6
backend l6
 server ok `+good.addr()+` ssl verify required ca-file ca.pem `+chk+`
 server badca `+good.addr()+` ssl verify required ca-file wrong.pem `+chk+`
 server plain `+plain.addr+` ssl verify none `+chk+`
 server nocheckssl `+plain.addr+` ssl verify none no-check-ssl `+chk+`
 server port `+good.addr()+` ssl verify none port `+plain.addr[strings.LastIndex(plain.addr, ":")+1:]+` addr 127.0.0.1 `+chk+`
 server sni `+good.addr()+` ssl verify required ca-file ca.pem check-sni srv.example `+chk+`
 server badsni `+good.addr()+` ssl verify required ca-file ca.pem check-sni other.example `+chk+`
 server checkssl `+good.addr()+` check-ssl verify none `+chk+`
backend l7
 option httpchk GET /health
 server ok `+good.addr()+` ssl verify required ca-file ca.pem `+chk+`
 server sick `+sick.addr()+` ssl verify none `+chk+`
 server badca `+good.addr()+` ssl verify required ca-file wrong.pem `+chk+`
backend l7connect
 option httpchk GET /health
 http-check connect ssl sni srv.example
 server ok `+good.addr()+` verify required ca-file ca.pem `+chk+`
`))
	type want struct {
		be, srv string
		state   ServerState
		code    string
		status  string
	}
	wants := []want{
		{"l6", "ok", StateUp, "L6OK", "Layer6 check passed"},
		{"l6", "badca", StateDown, "L6RSP", "Layer6 invalid response: SSL handshake failure"},
		{"l6", "plain", StateDown, "L6RSP", "Layer6 invalid response: SSL handshake failure"},
		{"l6", "nocheckssl", StateUp, "L4OK", "Layer4 check passed"},
		{"l6", "port", StateUp, "L4OK", "Layer4 check passed"},
		{"l6", "sni", StateUp, "L6OK", "Layer6 check passed"},
		{"l6", "badsni", StateDown, "L6RSP", "Layer6 invalid response: Server presented an SSL certificate different from the expected one"},
		{"l6", "checkssl", StateUp, "L6OK", "Layer6 check passed"},
		{"l7", "ok", StateUp, "L7OK", "Layer7 check passed"},
		{"l7", "sick", StateDown, "L7STS", "Layer7 wrong status: Service Unavailable"},
		{"l7", "badca", StateDown, "L6RSP", "Layer6 invalid response: SSL handshake failure"},
		{"l7connect", "ok", StateUp, "L7OK", "Layer7 check passed"},
	}
	for _, w := range wants {
		eventually(t, 10*time.Second, w.be+"/"+w.srv+" checked as "+w.code, func() bool {
			s := serverStatus(p, w.be, w.srv)
			return s.State == w.state && s.CheckCode == w.code && s.CheckStatus == w.status
		})
	}
	if n := good.checks.Load(); n < 2 {
		t.Errorf("the TLS server answered %d HTTP checks over TLS", n)
	}
	if n := sick.checks.Load(); n < 1 {
		t.Errorf("the sick server answered %d HTTP checks", n)
	}
	if good.sniCount("srv.example") == 0 || good.sniCount("other.example") == 0 {
		t.Errorf("check-sni not sent: %v", good.snis)
	}
	// The stats CSV (and `show stat`) print what haproxy 2.6 prints for these servers.
	rows := map[string][4]string{}
	for _, r := range stats.Rows(p.StatsSnapshot()) {
		if r.Get(stats.ColPxname) == "l6" {
			rows[r.Get(stats.ColSvname)] = [4]string{r.Get(stats.ColCheckStatus), r.Get(stats.ColCheckCode), r.Get(stats.ColCheckDesc), r.Get(stats.ColLastChk)}
		}
	}
	if got := rows["badca"]; got != [4]string{"L6RSP", "", "Layer6 invalid response", "SSL handshake failure"} {
		t.Errorf("CSV of l6/badca: %q", got)
	}
	if got := rows["ok"]; got != [4]string{"L6OK", "", "Layer6 check passed", ""} {
		t.Errorf("CSV of l6/ok: %q", got)
	}
	// HAProxy's log line for a server taken down by a failed TLS check.
	eventually(t, 5*time.Second, "the L6RSP log line", func() bool {
		for _, e := range logs.All() {
			if strings.Contains(e.Message, "Server l6/badca is DOWN, reason: Layer6 invalid response, info: \"SSL handshake failure\", check duration: ") {
				return true
			}
		}
		return false
	})
}

// A TLS check is bounded by the connect timeout: a server that accepts and never
// answers the ClientHello is L6TOUT, not a pass.
func TestTLSHealthCheckTimeout(t *testing.T) {
	silent := startBackend(t, "silent", "")
	silent.handle(func(c net.Conn) bool {
		c.Read(make([]byte, 4096))
		time.Sleep(2 * time.Second)
		return true
	})
	p, _ := startProxy(t, loadTLSCfg(t, t.TempDir(), `
backend b
 mode tcp
 timeout connect 200ms
 timeout check 1s
 server s `+silent.addr+` ssl verify none check inter 300ms rise 1 fall 1
`))
	eventually(t, 10*time.Second, "L6TOUT", func() bool {
		s := serverStatus(p, "b", "s")
		return s.State == StateDown && s.CheckCode == "L6TOUT" && s.CheckStatus == "Layer6 timeout" && s.CheckTime < 900*time.Millisecond
	})
}

// Checks carry the server's PROXY header as HAProxy's do: send-proxy gives a v1 header,
// send-proxy-v2 a v2 LOCAL one, and a check sent elsewhere (`port`) or through an
// explicit `http-check connect` gets none.
func TestChecksSendServerProxyHeader(t *testing.T) {
	type seen struct {
		name    string
		version int // 0: no PROXY header
		local   bool
	}
	got := make(chan seen, 64)
	record := func(b *testBackend) {
		b.handle(func(c net.Conn) bool {
			c.SetDeadline(time.Now().Add(300 * time.Millisecond))
			h, err := proxyproto.ReadConn(c)
			s := seen{name: b.name}
			if err == nil {
				s.version, s.local = h.Version, h.Command == proxyproto.CommandLocal
			}
			select {
			case got <- s:
			default:
			}
			c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n"))
			return true
		})
	}
	v1, v2, other, web := startBackend(t, "v1", ""), startBackend(t, "v2", ""), startBackend(t, "other", ""), startBackend(t, "web", "")
	for _, b := range []*testBackend{v1, v2, other, web} {
		record(b)
	}
	port := func(b *testBackend) string { return b.addr[strings.LastIndex(b.addr, ":")+1:] }
	const chk = "check inter 100ms rise 1 fall 1"
	startProxy(t, loadTLSCfg(t, t.TempDir(), `
defaults
 timeout connect 1s
 timeout check 1s
backend tcp
 mode tcp
 server s1 `+v1.addr+` send-proxy `+chk+`
 server s2 `+v2.addr+` send-proxy-v2 `+chk+`
 server s3 127.0.0.1:1 send-proxy port `+port(other)+` `+chk+`
backend http
 mode http
 option httpchk GET /
 http-check connect port `+port(web)+`
 server s1 127.0.0.1:1 send-proxy `+chk+`
`))
	want := map[string]seen{"v1": {"v1", 1, false}, "v2": {"v2", 2, true}, "other": {"other", 0, false}, "web": {"web", 0, false}}
	deadline := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case s := <-got:
			if w, ok := want[s.name]; ok {
				if s != w {
					t.Fatalf("%s: check connection %+v, want %+v", s.name, s, w)
				}
				delete(want, s.name)
			}
		case <-deadline:
			t.Fatalf("no check reached %v", want)
		}
	}
}
