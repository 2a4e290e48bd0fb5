package accesslog

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Severities, as syslog numbers them.
const (
	Emerg = iota
	Alert
	Crit
	Err
	Warning
	Notice
	Info
	Debug
)

var levels = map[string]int{"emerg": Emerg, "alert": Alert, "crit": Crit, "err": Err,
	"warning": Warning, "notice": Notice, "info": Info, "debug": Debug}

var facilities = map[string]int{"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4,
	"syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9, "auth2": 10, "ftp": 11,
	"ntp": 12, "audit": 13, "alert": 14, "cron2": 15, "local0": 16, "local1": 17,
	"local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// Target is one `log` destination.
type Target struct {
	Address  string // "stdout", "stderr", "udp:HOST:PORT" or "HOST[:PORT]", "unix:/dev/log" or "/dev/log"
	Facility string
	Level    string // highest severity sent ("" all)
	MinLevel string
	Format   string // rfc3164 (default), rfc5424, raw
}

// Sink sends lines to one target.
type Sink struct {
	mu       sync.Mutex
	w        io.Writer
	conn     net.Conn
	q        *queue // in front of a target that can block; shared for stdout/stderr
	facility int
	maxSev   int
	minSev   int
	format   string
	tag      string
	host     string
	pid      string
	buf      []byte
}

// Open prepares a target. UDP targets are "connected" sockets: a missing syslog server
// costs a dropped datagram, never a blocked connection.
func Open(t Target, tag string) (*Sink, error) {
	s := &Sink{maxSev: Debug, minSev: Emerg, format: t.Format, tag: tag, pid: strconv.Itoa(os.Getpid())}
	if s.format == "" {
		s.format = "rfc3164"
	}
	switch s.format {
	case "rfc3164", "rfc5424", "raw":
	default:
		return nil, fmt.Errorf("log %s: format %q not supported (expected rfc3164, rfc5424 or raw)", t.Address, t.Format)
	}
	fac := t.Facility
	if fac == "" {
		fac = "local0"
	}
	f, ok := facilities[fac]
	if !ok {
		return nil, fmt.Errorf("log %s: unknown facility %q", t.Address, t.Facility)
	}
	s.facility = f
	if t.Level != "" {
		if s.maxSev, ok = levels[t.Level]; !ok {
			return nil, fmt.Errorf("log %s: unknown level %q", t.Address, t.Level)
		}
	}
	if t.MinLevel != "" {
		if s.minSev, ok = levels[t.MinLevel]; !ok {
			return nil, fmt.Errorf("log %s: unknown level %q", t.Address, t.MinLevel)
		}
	}
	s.host, _ = os.Hostname()
	addr := t.Address
	switch {
	case addr == "stdout":
		s.q = stdQueue(&stdoutQ, os.Stdout)
		s.w = s.q
	case addr == "stderr":
		s.q = stdQueue(&stderrQ, os.Stderr)
		s.w = s.q
	case strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "/"):
		c, err := net.Dial("unixgram", strings.TrimPrefix(addr, "unix:"))
		if err != nil {
			return nil, fmt.Errorf("log %s: %v", addr, err)
		}
		// A unix datagram socket blocks when its reader falls behind.
		s.conn, s.q = c, newQueue(c, true)
		s.w = s.q
	default:
		addr = strings.TrimPrefix(strings.TrimPrefix(addr, "udp:"), "ipv4@")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "514")
		}
		c, err := net.Dial("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("log %s: %v", t.Address, err)
		}
		s.conn, s.w = c, c
	}
	return s, nil
}

// NewWriterSink sends lines to w (tests, or a caller's file).
func NewWriterSink(w io.Writer, format, facility, tag string) *Sink {
	s := &Sink{w: w, maxSev: Debug, minSev: Emerg, format: format, tag: tag, pid: strconv.Itoa(os.Getpid()), facility: facilities[facility]}
	if s.format == "" {
		s.format = "rfc3164"
	}
	return s
}

// stdoutQ and stderrQ are shared by every sink writing to the process's own
// stdout or stderr: lines of all sinks stay in order and a reload does not
// start another writer.
var (
	stdMu            sync.Mutex
	stdoutQ, stderrQ *queue
)

func stdQueue(q **queue, f *os.File) *queue {
	stdMu.Lock()
	defer stdMu.Unlock()
	if *q == nil {
		*q = newQueue(f, false)
	}
	return *q
}

// Close releases the socket after its queued lines are written (bounded
// wait). A stdout/stderr sink is only flushed: sessions of an older
// configuration may still log through the shared queue.
func (s *Sink) Close() error {
	if s.q != nil && s.conn == nil {
		s.q.flush()
		return nil
	}
	if s.q != nil {
		s.q.close()
	}
	if s.conn != nil {
		return s.conn.Close()
	}
	return nil
}

// Send writes one line of severity sev, with the header of the target's format. Errors
// (no syslog listening) are dropped, and targets that can block (stdout, stderr, unix
// sockets) are written by a queue that drops and counts when full (Dropped):
// logging never stalls traffic.
func (s *Sink) Send(sev int, now time.Time, msg []byte) {
	if sev > s.maxSev || sev < s.minSev {
		return
	}
	s.mu.Lock()
	b := AppendHeader(s.buf[:0], s.format, s.facility, sev, now, s.host, s.tag, s.pid)
	b = append(b, msg...)
	b = append(b, '\n')
	s.w.Write(b)
	if cap(b) <= 64<<10 {
		s.buf = b
	}
	s.mu.Unlock()
}

// AppendHeader appends a syslog header. rfc3164 is HAProxy's default:
// "<134>Nov 23 12:50:23 haproxy[1234]: " (no hostname, as HAProxy sends it).
func AppendHeader(b []byte, format string, facility, sev int, t time.Time, host, tag, pid string) []byte {
	switch format {
	case "raw":
		return b
	case "rfc5424":
		b = append(b, '<')
		b = strconv.AppendInt(b, int64(facility*8+sev), 10)
		b = append(b, ">1 "...)
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, ' ')
		b = append(b, host...)
		b = append(b, ' ')
		b = append(b, tag...)
		b = append(b, ' ')
		b = append(b, pid...)
		return append(b, " - - "...)
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(facility*8+sev), 10)
	b = append(b, '>')
	b = t.AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, '[')
	b = append(b, pid...)
	return append(b, "]: "...)
}
