package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
)

// namedWeb is an http backend answering "NAME PATH cookie=<what it received>" and
// remembering the client addresses (proxy-side connections) that carried requests.
type namedWeb struct {
	name  string
	srv   *httptest.Server
	mu    sync.Mutex
	peers map[string]int
	reqs  atomic.Int64
}

func startNamedWeb(t *testing.T, name string) *namedWeb {
	t.Helper()
	w := &namedWeb{name: name, peers: map[string]int{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.reqs.Add(1)
		w.mu.Lock()
		w.peers[r.RemoteAddr]++
		w.mu.Unlock()
		fmt.Fprintf(rw, "%s %s cookie=%s xff=%s", name, r.URL.Path, r.Header.Get("Cookie"), r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *namedWeb) addr() string { return w.srv.Listener.Addr().String() }

func (w *namedWeb) conns() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.peers)
}

func udpLines(t *testing.T) (string, <-chan string) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ch := make(chan string, 4096)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case ch <- string(buf[:n]):
			default:
			}
		}
	}()
	return pc.LocalAddr().String(), ch
}

func httpGet(c *http.Client, url string) (int, string, http.Header, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

func writeCfg(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Seed 004's L7 block through a real appld: routing by path_beg -i to ms1 / ms2 /
// default_servers, `cookie ... insert indirect nocache` persistence (the same client
// sticks, its cookie never reaches the servers, a client without the cookie is
// rebalanced), forwardfor, keep-alive (one server connection for a client's requests)
// and httplog lines.
func TestSeed004HTTPThroughAppld(t *testing.T) {
	web := map[string]*namedWeb{}
	for _, n := range []string{"ms1.srv1", "ms1.srv2", "ms2.srv1", "ms2.srv2", "def.srv1", "def.srv2"} {
		web[n] = startNamedWeb(t, n)
	}
	front, stats := freePort(t), freePort(t)
	logAddr, lines := udpLines(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	// The seed's "HAProxy build L7 load balancer" block, verbatim except:
	//  - bind *:9001 / *:1080 -> free loopback ports
	//  - servers 192.168.8.111/112:8080-8082 -> loopback net/http servers
	//  - log 127.0.0.1 (udp/514) -> a loopback UDP listener of the test
	//  - pidfile /home/ha/haproxy/conf/haproxy.pid -> the test's temp dir (appld, like
	//    haproxy, refuses to start when it cannot write its pidfile)
	writeCfg(t, path, `global
    daemon
    maxconn 30000   #ulimit -n is at least 60018
    user ha
    pidfile `+filepath.Join(dir, "haproxy.pid")+`
    log `+logAddr+` local0 info
    log `+logAddr+` local1 warning

defaults
    mode http
    log global
    option http-keep-alive   #Connecting with keepAlive
    option forwardfor        #Record client IP in the X-Forwarded-For header field
    option httplog           #Turn on httplog, HAProxy will record richer request information
    timeout connect 5000ms
    timeout client 10000ms
    timeout server 50000ms
    timeout http-request 20000ms    #Timeout from the start of connection creation until the complete HTTP request is read from the client, used to avoid DoS-like attacks
    option httpchk GET /healthCheck.html    #Define the default health check policy

frontend http-in
    bind `+front+`
    maxconn 30000                    #Define the maxconn on this port
    acl url_ms1 path_beg -i /ms1/    #Define ACL[url_ms1] as true when uri starts with /ms1/
    acl url_ms2 path_beg -i /ms2/    #Define ACL[url_ms2] as true when uri starts with /ms2/
    use_backend ms1 if url_ms1       #When [url_ms1] is true, the direction to the back-end service group ms1
    use_backend ms2 if url_ms2       #When [url_ms2] is true, the direction to the back-end service group ms2
    default_backend default_servers  #In other cases, it is directed to the backend service group default_servers

backend ms1    #Define backend service group ms1
    balance roundrobin    #Using the RR load balancing algorithm
    cookie HA_STICKY_ms1 insert indirect nocache    #Session hold policy, insert cookie named "HA_STICKY_ms1"
    server ms1.srv1 `+web["ms1.srv1"].addr()+` cookie ms1.srv1 maxconn 300 check inter 2000ms rise 2 fall 3
    server ms1.srv2 `+web["ms1.srv2"].addr()+` cookie ms1.srv2 maxconn 300 check

backend ms2    #Define back-end service group ms2
    balance roundrobin
    cookie HA_STICKY_ms2 insert indirect nocache
    server ms2.srv1 `+web["ms2.srv1"].addr()+` cookie ms2.srv1 maxconn 300 check
    server ms2.srv2 `+web["ms2.srv2"].addr()+` cookie ms2.srv2 maxconn 300 check

backend default_servers    #Define the backend service group default_servers
    balance roundrobin
    cookie HA_STICKY_def insert indirect nocache
    server def.srv1 `+web["def.srv1"].addr()+` cookie def.srv1 maxconn 300 check
    server def.srv2 `+web["def.srv2"].addr()+` cookie def.srv2 maxconn 300 check

listen stats    #Define monitoring pages
    bind `+stats+`                   #Binding port 1080
    stats refresh 30s             #Monitoring data updated every 30 seconds
    stats uri /stats              #Monitored pages
    stats realm HAProxy\ Stats    #Authentication prompt on monitoring page
    stats auth admin:admin        #Username and password for the monitoring page
`)
	startLocalAppld(t, path)
	base := "http://" + front
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving http", func() bool {
		code, _, _, err := httpGet(&http.Client{Timeout: time.Second}, base+"/")
		return err == nil && code == 200
	})

	// Routing (path_beg -i: /MS2/ is ms2 too).
	for path, want := range map[string]string{"/ms1/a": "ms1.", "/ms2/b": "ms2.", "/MS2/c": "ms2.", "/other": "def."} {
		_, body, _, err := httpGet(&http.Client{Timeout: 5 * time.Second}, base+path)
		if err != nil || !strings.HasPrefix(body, want) {
			t.Fatalf("GET %s: %q %v, want a %s server", path, body, err, want)
		}
		if !strings.Contains(body, "xff=127.0.0.1") {
			t.Fatalf("GET %s: X-Forwarded-For missing: %q", path, body)
		}
	}

	// Persistence: one client with a cookie jar sticks to the server of its first
	// response, over one keep-alive connection; the servers never see the cookie.
	jar, _ := cookiejar.New(nil)
	sticky := &http.Client{Timeout: 5 * time.Second, Jar: jar}
	_, body, h, err := httpGet(sticky, base+"/ms1/login")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Fields(body)[0]
	if sc := h.Get("Set-Cookie"); !strings.HasPrefix(sc, "HA_STICKY_ms1="+first) {
		t.Fatalf("Set-Cookie %q for server %s", sc, first)
	}
	if cc := h.Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Fatalf("nocache: Cache-Control %q", cc)
	}
	conns0 := web[first].conns()
	for i := 0; i < 30; i++ {
		_, body, h, err := httpGet(sticky, fmt.Sprintf("%s/ms1/page%d", base, i))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Fields(body)[0]; got != first {
			t.Fatalf("request %d went to %s, the client's cookie names %s", i, got, first)
		}
		if strings.Contains(body, "HA_STICKY") {
			t.Fatalf("indirect cookie reached the server: %q", body)
		}
		if h.Get("Set-Cookie") != "" {
			t.Fatalf("cookie set again on request %d: %q", i, h.Get("Set-Cookie"))
		}
	}
	if n := web[first].conns() - conns0; n > 1 {
		t.Fatalf("30 keep-alive requests of one client used %d new server connections, want at most 1", n)
	}
	// Deleted cookie: fresh clients are balanced over both servers.
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		_, body, _, err := httpGet(&http.Client{Timeout: 5 * time.Second}, base+"/ms1/x")
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.Fields(body)[0]]++
	}
	if seen["ms1.srv1"] == 0 || seen["ms1.srv2"] == 0 {
		t.Fatalf("clients without the cookie reached %v, want both ms1 servers", seen)
	}

	// httplog lines: the sticky client's requests carry a valid cookie (--VN).
	deadline := time.After(5 * time.Second)
	for found := false; !found; {
		select {
		case l := <-lines:
			found = strings.Contains(l, "http-in ms1/"+first+" ") && strings.Contains(l, " --VN ") && strings.Contains(l, `"GET /ms1/page`)
		case <-deadline:
			t.Fatal("no httplog line with a valid persistence cookie (--VN)")
		}
	}
}

// Seed 002's HTTP listens (`balance source`) through appld: a client address always
// reaches the same server, over new connections; many addresses spread over both.
func TestSeed002BalanceSourceThroughAppld(t *testing.T) {
	web := map[string]*namedWeb{}
	for _, n := range []string{"http_srv-1", "http_srv-2", "http_srv-3", "http_srv-4"} {
		web[n] = startNamedWeb(t, n)
	}
	vip1, vip2 := freePort(t), freePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	// The seed's primary "-- HTTP --" listens, verbatim except:
	//  - VIPs 10.2.2.5:80 / 10.2.2.55:80 -> free loopback ports
	//  - servers 10.6.6.1-4:80 -> loopback net/http servers
	//  - a defaults section with timeouts (the seed's global/defaults are not shown)
	writeCfg(t, path, `defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s
# -- HTTP -- #
listen haproxy_10.2.2.5_80
        bind `+vip1+`
		mode http
		balance source
        server http_srv-1 `+web["http_srv-1"].addr()+` check
        server http_srv-2 `+web["http_srv-2"].addr()+` check
		#
listen haproxy_10.2.2.55_80
        bind `+vip2+`
		mode http
		balance source
        server http_srv-3 `+web["http_srv-3"].addr()+` check
        server http_srv-4 `+web["http_srv-4"].addr()+` check
`)
	startLocalAppld(t, path)
	from := func(src string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving http", func() bool {
		code, _, _, err := httpGet(from("127.0.0.1"), "http://"+vip1+"/")
		return err == nil && code == 200
	})
	for _, vip := range []string{vip1, vip2} {
		spread := map[string]int{}
		for i := 2; i < 42; i++ {
			src := fmt.Sprintf("127.0.0.%d", i)
			c := from(src)
			var first string
			for r := 0; r < 4; r++ {
				_, body, _, err := httpGet(c, "http://"+vip+"/")
				if err != nil {
					t.Fatalf("%s from %s: %v", vip, src, err)
				}
				got := strings.Fields(body)[0]
				if r == 0 {
					first = got
					spread[got]++
				} else if got != first {
					t.Fatalf("%s: source %s moved from %s to %s", vip, src, first, got)
				}
			}
		}
		if len(spread) != 2 || min(spread["http_srv-1"]+spread["http_srv-3"], spread["http_srv-2"]+spread["http_srv-4"]) < 8 {
			t.Fatalf("%s: 40 sources spread as %v, want both servers with at least 8", vip, spread)
		}
	}
}

// wsEcho is a WebSocket server that answers the upgrade and echoes text frames.
func wsEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
					io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(req.Header.Get("Sec-WebSocket-Key")))
				for {
					op, payload, err := wsRead(br)
					if err != nil || op == 8 {
						return
					}
					if _, err := c.Write(wsFrame(op, payload, false)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsFrame builds a final frame; client frames are masked (RFC 6455 5.3).
func wsFrame(op byte, payload []byte, mask bool) []byte {
	b := []byte{0x80 | op}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 65536:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !mask {
		return append(b, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func wsRead(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, p, nil
}

// A WebSocket echo through appld: the upgrade is answered 101 and frames of several
// sizes come back intact over the tunnel.
func TestWebSocketEchoThroughAppld(t *testing.T) {
	ws := wsEcho(t)
	front := freePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	writeCfg(t, path, `defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout tunnel 30s
frontend www
    bind `+front+`
    use_backend chat if { hdr(Upgrade) -i websocket }
    default_backend chat
backend chat
    server ws1 `+ws+`
`)
	startLocalAppld(t, path)
	var c net.Conn
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld listening", func() bool {
		var err error
		c, err = net.DialTimeout("tcp4", front, time.Second)
		return err == nil
	})
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("upgrade answered %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	for _, n := range []int{5, 300, 70000} {
		msg := []byte(strings.Repeat("w", n-1) + "!")
		if _, err := c.Write(wsFrame(1, msg, true)); err != nil {
			t.Fatal(err)
		}
		op, got, err := wsRead(br)
		if err != nil || op != 1 || string(got) != string(msg) {
			t.Fatalf("echo of %d bytes: op %d, %d bytes, %v", n, op, len(got), err)
		}
	}
}

// SIGHUP reloads under a bounded http load (keep-alive and new-connection clients): no
// request fails, and the last configuration serves new connections.
func TestHTTPReloadUnderLoadThroughAppld(t *testing.T) {
	a, b := startNamedWeb(t, "A"), startNamedWeb(t, "B")
	front := freePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	write := func(server string) {
		writeCfg(t, path, `defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen web
    bind `+front+`
    server s `+server+`
`)
	}
	write(a.addr())
	cmd, _ := startLocalAppld(t, path)
	url := "http://" + front + "/"
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving http", func() bool {
		_, body, _, err := httpGet(&http.Client{Timeout: time.Second}, url)
		return err == nil && strings.HasPrefix(body, "A ")
	})
	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: w%2 == 1}}
			for i := 0; i < 50000 && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, _, _, err := httpGet(c, url)
				if err != nil || code != 200 {
					failed.Add(1)
					lastErr.Store(fmt.Sprintf("%d %v", code, err))
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 8; i++ {
		before := ok.Load()
		testbed.Eventually(t, 10*time.Second, 5*time.Millisecond, "requests flowing", func() bool { return ok.Load() > before+100 })
		if i%2 == 0 {
			write(b.addr())
		} else {
			write(a.addr())
		}
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed across reloads, last: %v", n, ok.Load()+n, lastErr.Load())
	}
	// The last file names A: new connections reach it.
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "last configuration in effect", func() bool {
		_, body, _, err := httpGet(&http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, url)
		return err == nil && strings.HasPrefix(body, "A ")
	})
	if a.reqs.Load() == 0 || b.reqs.Load() == 0 {
		t.Fatalf("requests A=%d B=%d: reloads did not alternate the server", a.reqs.Load(), b.reqs.Load())
	}
	t.Logf("%d requests, 0 failed, 8 reloads", ok.Load())
}

// Error answers through appld: 503 when the server refuses connections (after the
// retries), 502 when it answers something that is not HTTP; the next request on the
// same client connection still works.
func TestHTTPErrorsThroughAppld(t *testing.T) {
	ok := startNamedWeb(t, "ok")
	garbage, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 4096))
				io.WriteString(c, "SSH-2.0-OpenSSH_9.2\r\n\r\n")
			}()
		}
	}()
	front := freePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	writeCfg(t, path, `defaults
    mode http
    retries 1
    timeout connect 500ms
    timeout client 5s
    timeout server 5s
frontend www
    bind `+front+`
    use_backend down if { path_beg /down }
    use_backend bad if { path_beg /bad }
    default_backend good
backend good
    server s `+ok.addr()+`
backend down
    server s `+freePort(t)+`
backend bad
    server s `+garbage.Addr().String()+`
`)
	startLocalAppld(t, path)
	c := &http.Client{Timeout: 5 * time.Second}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving http", func() bool {
		code, _, _, err := httpGet(c, "http://"+front+"/")
		return err == nil && code == 200
	})
	for _, tc := range []struct {
		path string
		code int
	}{{"/down", 503}, {"/", 200}, {"/bad", 502}, {"/", 200}} {
		code, _, _, err := httpGet(c, "http://"+front+tc.path)
		if err != nil || code != tc.code {
			t.Fatalf("GET %s: %d %v, want %d", tc.path, code, err, tc.code)
		}
	}
}
