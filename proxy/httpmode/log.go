package httpmode

import (
	"net/netip"
	"strconv"
	"time"

	"appl/proxy/accesslog"
)

// LogEntry is one request as option httplog reports it. The engine fills everything
// but the connection counts (%ac/%fc/%bc/%sc), which the data plane sets in Env.Log
// before formatting.
type LogEntry struct {
	Client      netip.AddrPort // %ci:%cp
	RequestDate time.Time      // %tr: first byte of the request (accept for the first)
	Frontend    string         // %ft (TLS appends '~')
	TLS         bool
	Backend     string // %b: the frontend's name when no backend was chosen
	Server      string // %s: "<NOSRV>" when no server was used
	// Timers; negative: stage not reached (-1 in the line).
	TR, Tw, Tc, Tr, Ta time.Duration
	Status             int   // %ST; 0 when no response was sent (-1 in the line)
	Bytes              int64 // %B: bytes sent to the client (head and body)
	BytesIn            int64 // %U: bytes read from the client for this request
	Term               [2]byte
	Cookie             [2]byte // persistence cookie status, '-' when none
	ActConn, FeConn    int     // set by the data plane
	BeConn, SrvConn    int     // set by the data plane
	Retries            int
	Redispatched       bool
	SrvQueue, BeQueue  int
	// RequestLine is the request line as received ("<BADREQ>" for a malformed one).
	RequestLine []byte
	// Error names the refusal of a malformed message (http1 ParseError Name), "" otherwise.
	Error string
	// Denied is set when a rule refused the request (deny, auth) or the response.
	Denied bool
	// RequestNo counts requests on the client connection, from 1.
	RequestNo int
}

// AppendHTTPLog appends HAProxy's httplog line (after the syslog header):
// %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc
// %sq/%bq %hr %hs %{+Q}r. No captures are configured, so %CC %CS are "-" and %hr %hs
// are absent (HAProxy drops empty capture blocks with their separator).
func (e *LogEntry) AppendHTTPLog(b []byte) []byte {
	if e.Client.IsValid() {
		b = e.Client.Addr().Unmap().AppendTo(b)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(e.Client.Port()), 10)
	} else {
		b = append(b, "unix:1"...)
	}
	b = append(b, " ["...)
	b = accesslog.AppendDate(b, e.RequestDate)
	b = append(b, "] "...)
	b = append(b, e.Frontend...)
	if e.TLS {
		b = append(b, '~')
	}
	b = append(b, ' ')
	b = append(b, e.Backend...)
	b = append(b, '/')
	b = append(b, e.Server...)
	b = append(b, ' ')
	for i, d := range [...]time.Duration{e.TR, e.Tw, e.Tc, e.Tr, e.Ta} {
		if i > 0 {
			b = append(b, '/')
		}
		b = accesslog.AppendMs(b, d)
	}
	b = append(b, ' ')
	if e.Status > 0 {
		b = strconv.AppendInt(b, int64(e.Status), 10)
	} else {
		b = append(b, "-1"...)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, " - - "...)
	b = append(b, e.Term[0], e.Term[1], e.Cookie[0], e.Cookie[1], ' ')
	b = accesslog.AppendCounters(b, e.ActConn, e.FeConn, e.BeConn, e.SrvConn, e.Redispatched, e.Retries, e.SrvQueue, e.BeQueue)
	b = append(b, ' ', '"')
	for _, c := range e.RequestLine {
		// %{+Q}: quote, escaping what would break the line.
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < ' ' || c >= 0x7f:
			b = append(b, '#')
			b = append(b, "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
