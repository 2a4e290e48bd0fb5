package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"appl/proxy/proxyproto"
)

// Step is one tcp-check rule.
type Step struct {
	Action    string // connect, send, send-binary, expect
	Port      int    // connect: 0 keeps the check port
	SendProxy bool   // connect: send a PROXY v1 header first
	// TLS makes a connect step hand-shake TLS after connecting (tcp-check connect ssl,
	// or default on a server checked over TLS); nil: plain.
	TLS *tls.Config
	// ProxyHeader is the server's PROXY header for a `connect default` step (see
	// Probe.ProxyHeader); SendProxy forces v1.
	ProxyHeader int
	Data        []byte // send, send-binary
	Negate      bool   // expect !
	Match       string // expect: string, rstring, binary
	Pattern     string
	re          *regexp.Regexp
}

// Compile validates steps (regexps) once, at configuration time.
func Compile(steps []Step) ([]Step, error) {
	out := make([]Step, len(steps))
	for i, s := range steps {
		switch s.Action {
		case "connect", "send", "send-binary":
		case "expect":
			switch s.Match {
			case "string", "binary":
			case "rstring":
				re, err := regexp.Compile(s.Pattern)
				if err != nil {
					return nil, fmt.Errorf("tcp-check expect rstring %q: %v", s.Pattern, err)
				}
				s.re = re
			default:
				return nil, fmt.Errorf("tcp-check expect %s is not supported (expected string, rstring or binary)", s.Match)
			}
		default:
			return nil, fmt.Errorf("tcp-check %s is not supported (expected connect, send, send-binary or expect)", s.Action)
		}
		out[i] = s
	}
	return out, nil
}

// Probe is how to check one server.
type Probe struct {
	Addr   netip.AddrPort // check address and port
	Source netip.Addr     // local address to bind, zero for any
	// Timeout bounds the whole check, or only the connection when ReadTimeout is set.
	// HAProxy: without `timeout check` the whole check gets inter; with it, the connect
	// gets min(timeout connect, inter) and the response `timeout check` from then on.
	Timeout     time.Duration
	ReadTimeout time.Duration
	Steps       []Step     // nil: connect only; compiled by Compile
	HTTP        *HTTPCheck // an HTTP check (wins over Steps); compiled by CompileHTTP
	// ServerState returns the X-Haproxy-Server-State value for http-check send-state.
	ServerState func() string
	// TLS, when set, runs the check's default connection over TLS (HAProxy's check-ssl,
	// or the default of an ssl server): the plain connect check, the HTTP check and the
	// implicit connect of a tcp-check sequence. The handshake is part of connecting: it
	// is bounded by the connect deadline and fails as L6RSP or L6TOUT. A connect check
	// that completes it passes as L6OK.
	TLS *tls.Config
	// ProxyHeader is sent first on the default connection: 1 a PROXY v1 header (the
	// check's own addresses), 2 a PROXY v2 LOCAL header, 0 none. HAProxy sends the
	// server's send-proxy / send-proxy-v2 on checks to the server's own address.
	ProxyHeader int
}

// Outcome is one check's result with HAProxy's status and wording.
type Outcome struct {
	OK       bool
	Status   Status
	Reason   string // Status.Description(): "Layer4 check passed", "Layer7 wrong status", ...
	Code     int    // HTTP status code for L7 statuses (0 for tcp-check)
	Info     string // "Connection refused", "Not Found", "TCPCHK did not match content 'x' at step 2", ...
	Duration time.Duration
}

// Run performs the probe once.
func (p *Probe) Run(ctx context.Context) Outcome {
	start := time.Now()
	o := p.run(ctx)
	o.Duration = time.Since(start)
	return o
}

func (p *Probe) run(ctx context.Context) Outcome {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	deadline := time.Now().Add(timeout)
	var conn net.Conn
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
		if conn != nil {
			conn.Close()
		}
	}()
	dial := func(port int, proxyHeader int, tlsCfg *tls.Config) *Outcome {
		addr := p.Addr
		if port > 0 {
			addr = netip.AddrPortFrom(addr.Addr(), uint16(port))
		}
		d := net.Dialer{}
		if p.Source.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: p.Source.AsSlice()}
		}
		dl := deadline
		if p.ReadTimeout > 0 {
			dl = time.Now().Add(timeout)
		}
		dctx, cancel := context.WithDeadline(ctx, dl)
		c, err := d.DialContext(dctx, "tcp", addr.String())
		cancel()
		if err != nil {
			return l4Fail(err)
		}
		// Checks close with a reset, as HAProxy's do, so they leave no TIME_WAIT behind.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		// The PROXY header and the TLS handshake belong to connecting: the connect
		// deadline bounds them (HAProxy reports a slow handshake as L6TOUT after
		// timeout connect when timeout check is set).
		c.SetDeadline(dl)
		conn = c
		// A stopped check (shutdown, reload) ends its I/O at once.
		stops = append(stops, context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) }))
		if proxyHeader != 0 {
			var hdr []byte
			if proxyHeader == 2 {
				// HAProxy 2.6 sends a LOCAL command on checks (measured).
				hdr, _ = proxyproto.AppendV2Local(nil)
			} else {
				src, _ := netip.ParseAddrPort(c.LocalAddr().String())
				dst, _ := netip.ParseAddrPort(c.RemoteAddr().String())
				hdr = proxyproto.AppendV1(nil, src, dst)
			}
			if _, err := c.Write(hdr); err != nil {
				return l4Fail(err)
			}
		}
		if tlsCfg != nil {
			tc := tls.Client(c, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				return l6Fail(err)
			}
			// The raw socket stays the one closed (with a reset, see above): no
			// close_notify to wait on.
			conn = checkConn{tc, c}
		}
		if p.ReadTimeout > 0 {
			deadline = time.Now().Add(p.ReadTimeout)
		}
		conn.SetDeadline(deadline)
		return nil
	}
	if h := p.HTTP; h != nil {
		ph := p.ProxyHeader
		if h.SendProxy {
			ph = 1
		}
		if o := dial(h.Port, ph, p.TLS); o != nil {
			return *o
		}
		state := ""
		if h.SendState && p.ServerState != nil {
			state = p.ServerState()
		}
		return p.httpExchange(conn, h, h.Request(state))
	}
	steps := p.Steps
	if len(steps) == 0 || steps[0].Action != "connect" {
		if o := dial(0, p.ProxyHeader, p.TLS); o != nil {
			if len(steps) > 0 && (o.Info != "" || o.Status == StatusL6TOUT) {
				o.Info += " at initial connection step of tcp-check"
			}
			return *o
		}
	}
	if len(steps) == 0 {
		if p.TLS != nil {
			return outcome(StatusL6OK, 0, "")
		}
		return outcome(StatusL4OK, 0, "")
	}
	var buf []byte
	for i := range steps {
		s := &steps[i]
		n := i + 1
		switch s.Action {
		case "connect":
			if conn != nil {
				conn.Close()
				conn = nil
			}
			buf = buf[:0]
			ph := s.ProxyHeader
			if s.SendProxy {
				ph = 1
			}
			if o := dial(s.Port, ph, s.TLS); o != nil {
				o.Info = fmt.Sprintf("%s at step %d of tcp-check (connect)", o.Info, n)
				if o.Status != StatusL6TOUT {
					// HAProxy keeps the leading space of an empty cause only for L6TOUT
					// (measured on 2.6: info: " at step 1 of tcp-check (connect)").
					o.Info = strings.TrimSpace(o.Info)
				}
				return *o
			}
		case "send", "send-binary":
			if _, err := conn.Write(s.Data); err != nil {
				return outcome(StatusL7RSP, 0, fmt.Sprintf("%s at step %d of tcp-check (send)", errText(err), n))
			}
		case "expect":
			if o := s.expect(conn, &buf, n); o != nil {
				return *o
			}
			// HAProxy consumes what an expect read; the next expect sees new data.
			buf = buf[:0]
		}
	}
	return outcome(StatusL7OK, 0, "(tcp-check)")
}

// httpExchange sends req and reads the response into a buffer of at most ResponseLimit
// bytes until h.Judge decides: a longer or endless response cannot grow memory.
func (p *Probe) httpExchange(conn net.Conn, h *HTTPCheck, req []byte) Outcome {
	if _, err := conn.Write(req); err != nil {
		if isTimeout(err) {
			return outcome(StatusL7TOUT, 0, "")
		}
		return outcome(StatusL7RSP, 0, errText(err))
	}
	buf := make([]byte, ResponseLimit)
	scratch := make([]byte, 0, ResponseLimit)
	n := 0
	for {
		k, err := conn.Read(buf[n:])
		n += k
		if err != nil {
			switch {
			case isTimeout(err):
				return outcome(StatusL7TOUT, 0, "")
			case n == 0 && !errors.Is(err, io.EOF):
				return outcome(StatusL7RSP, 0, errText(err))
			}
			o, _ := h.judge(buf[:n], true, &scratch)
			return o
		}
		if o, done := h.judge(buf[:n], false, &scratch); done {
			return o
		}
		if n == len(buf) {
			o, _ := h.judge(buf[:n], true, &scratch)
			return o
		}
	}
}

// expect reads until the step is decided. A plain expectation passes once the pattern is
// in what arrived; a negated one fails as soon as the pattern appears and passes once data
// arrived without it.
func (s *Step) expect(conn net.Conn, buf *[]byte, n int) *Outcome {
	f := outcome(StatusL7RSP, 0, fmt.Sprintf("TCPCHK did not match content %s at step %d", s.describe(), n))
	fail := &f
	chunk := make([]byte, 4096)
	for {
		if len(*buf) > 0 {
			if s.matches(*buf) {
				if s.Negate {
					return fail
				}
				return nil
			}
			if s.Negate {
				return nil
			}
			if len(*buf) >= 16384 {
				return fail
			}
		}
		k, err := conn.Read(chunk)
		*buf = append(*buf, chunk[:k]...)
		if err != nil && k == 0 {
			if isTimeout(err) {
				o := outcome(StatusL7TOUT, 0, fmt.Sprintf("at step %d of tcp-check (expect %s)", n, s.describe()))
				return &o
			}
			return fail
		}
	}
}

func (s *Step) matches(b []byte) bool {
	switch s.Match {
	case "string", "binary":
		return bytes.Contains(b, []byte(s.Pattern))
	case "rstring":
		return s.re != nil && s.re.Match(b)
	}
	return false
}

func (s *Step) describe() string {
	neg := ""
	if s.Negate {
		neg = "!"
	}
	if s.Match == "binary" {
		return fmt.Sprintf("%sbinary '%x'", neg, s.Pattern)
	}
	return fmt.Sprintf("%s%s '%s'", neg, s.Match, s.Pattern)
}

func l4Fail(err error) *Outcome {
	if isTimeout(err) {
		o := outcome(StatusL4TOUT, 0, "")
		return &o
	}
	o := outcome(StatusL4CON, 0, errText(err))
	return &o
}

// l6Fail turns a failed TLS handshake into HAProxy's layer 6 outcome, with the wording
// haproxy 2.6 logs: a certificate whose names do not match the expected one (check-sni
// or verifyhost) is told apart from every other failure.
func l6Fail(err error) *Outcome {
	if isTimeout(err) {
		o := outcome(StatusL6TOUT, 0, "")
		return &o
	}
	info := "SSL handshake failure"
	var he x509.HostnameError
	if errors.As(err, &he) {
		info = "Server presented an SSL certificate different from the expected one"
	}
	o := outcome(StatusL6RSP, 0, info)
	return &o
}

// checkConn is a check's TLS connection whose Close closes the socket without a
// close_notify (the check is over; the socket's linger 0 resets it).
type checkConn struct {
	*tls.Conn
	raw net.Conn
}

func (c checkConn) Close() error { return c.raw.Close() }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// errText turns a socket error into HAProxy's capitalised strerror text.
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" {
			return strings.ToUpper(s[:1]) + s[1:]
		}
		return "errno " + strconv.Itoa(int(errno))
	}
	return err.Error()
}
