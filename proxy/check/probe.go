package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	Data      []byte // send, send-binary
	Negate    bool   // expect !
	Match     string // expect: string, rstring, binary
	Pattern   string
	re        *regexp.Regexp
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
	Addr    netip.AddrPort // check address and port
	Source  netip.Addr     // local address to bind, zero for any
	Timeout time.Duration  // per check (timeout check, else inter as HAProxy does)
	Steps   []Step         // nil: connect only; compiled by Compile
}

// Outcome is one check's result with HAProxy's wording.
type Outcome struct {
	OK       bool
	Reason   string // "Layer4 check passed", "Layer4 connection problem", "Layer4 timeout", ...
	Info     string // "Connection refused", "TCPCHK did not match content 'x' at step 2", ...
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var conn net.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	dial := func(port int, sendProxy bool) *Outcome {
		addr := p.Addr
		if port > 0 {
			addr = netip.AddrPortFrom(addr.Addr(), uint16(port))
		}
		d := net.Dialer{}
		if p.Source.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: p.Source.AsSlice()}
		}
		c, err := d.DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return l4Fail(err)
		}
		// Checks close with a reset, as HAProxy's do, so they leave no TIME_WAIT behind.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.SetDeadline(deadline)
		conn = c
		if sendProxy {
			src, _ := netip.ParseAddrPort(c.LocalAddr().String())
			dst, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			if _, err := c.Write(proxyproto.AppendV1(nil, src, dst)); err != nil {
				return l4Fail(err)
			}
		}
		return nil
	}
	steps := p.Steps
	if len(steps) == 0 || steps[0].Action != "connect" {
		if o := dial(0, false); o != nil {
			return *o
		}
	}
	if len(steps) == 0 {
		return Outcome{OK: true, Reason: "Layer4 check passed"}
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
			if o := dial(s.Port, s.SendProxy); o != nil {
				o.Info = strings.TrimSpace(fmt.Sprintf("%s at step %d of tcp-check (connect)", o.Info, n))
				return *o
			}
		case "send", "send-binary":
			if _, err := conn.Write(s.Data); err != nil {
				return Outcome{Reason: "Layer7 invalid response", Info: fmt.Sprintf("%s at step %d of tcp-check (send)", errText(err), n)}
			}
		case "expect":
			if o := s.expect(conn, &buf, n); o != nil {
				return *o
			}
			// HAProxy consumes what an expect read; the next expect sees new data.
			buf = buf[:0]
		}
	}
	return Outcome{OK: true, Reason: "Layer7 check passed", Info: "(tcp-check)"}
}

// expect reads until the step is decided. A plain expectation passes once the pattern is
// in what arrived; a negated one fails as soon as the pattern appears and passes once data
// arrived without it.
func (s *Step) expect(conn net.Conn, buf *[]byte, n int) *Outcome {
	fail := &Outcome{Reason: "Layer7 invalid response", Info: fmt.Sprintf("TCPCHK did not match content %s at step %d", s.describe(), n)}
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
				return &Outcome{Reason: "Layer7 timeout", Info: fmt.Sprintf("at step %d of tcp-check (expect %s)", n, s.describe())}
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
		return &Outcome{Reason: "Layer4 timeout"}
	}
	return &Outcome{Reason: "Layer4 connection problem", Info: errText(err)}
}

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
