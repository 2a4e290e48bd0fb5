package accesslog

import (
	"net/netip"
	"strconv"
	"time"
)

// Entry is what one tcplog line reports about a connection.
type Entry struct {
	Client   netip.AddrPort // %ci:%cp
	Accept   time.Time      // %t
	Frontend string         // %ft
	Backend  string         // %b, "<NOSRV>"-style placeholders are the caller's
	Server   string         // %s
	Tw, Tc   time.Duration  // queue and connect times; negative: stage not reached (-1)
	Tt       time.Duration  // total session time
	Bytes    int64          // %B, bytes sent to the client
	Term     [2]byte        // %ts: cause and stage, '-' for none
	ActConn  int            // %ac process connections
	FeConn   int            // %fc
	BeConn   int            // %bc
	SrvConn  int            // %sc
	Retries  int            // %rc
	Redisp   bool           // %rc gets a '+' prefix
	SrvQueue int            // %sq
	BeQueue  int            // %bq
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// AppendTCPLog appends HAProxy's tcplog line:
// %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq
func AppendTCPLog(b []byte, e *Entry) []byte {
	if e.Client.IsValid() {
		b = e.Client.Addr().Unmap().AppendTo(b)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(e.Client.Port()), 10)
	} else {
		b = append(b, "unix:1"...)
	}
	b = append(b, " ["...)
	b = AppendDate(b, e.Accept)
	b = append(b, "] "...)
	b = append(b, e.Frontend...)
	b = append(b, ' ')
	b = append(b, e.Backend...)
	b = append(b, '/')
	b = append(b, e.Server...)
	b = append(b, ' ')
	b = AppendMs(b, e.Tw)
	b = append(b, '/')
	b = AppendMs(b, e.Tc)
	b = append(b, '/')
	b = AppendMs(b, e.Tt)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, ' ', e.Term[0], e.Term[1], ' ')
	return AppendCounters(b, e.ActConn, e.FeConn, e.BeConn, e.SrvConn, e.Redisp, e.Retries, e.SrvQueue, e.BeQueue)
}

// AppendCounters appends HAProxy's "%ac/%fc/%bc/%sc/%rc %sq/%bq" block (a '+' before the
// retries when the session was redispatched), shared by the tcplog and httplog lines.
func AppendCounters(b []byte, ac, fc, bc, sc int, redisp bool, retries, sq, bq int) []byte {
	for i, v := range [...]int{ac, fc, bc, sc} {
		if i > 0 {
			b = append(b, '/')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	b = append(b, '/')
	if redisp {
		b = append(b, '+')
	}
	b = strconv.AppendInt(b, int64(retries), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(sq), 10)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(bq), 10)
}

// AppendDate appends HAProxy's accept date, "23/Nov/2026:12:50:23.123", in local time.
func AppendDate(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	b = append2(b, d)
	b = append(b, '/')
	b = append(b, months[mo-1]...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, ':')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	b = append(b, '.')
	ms := t.Nanosecond() / 1e6
	b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return b
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10%10), byte('0'+v%10))
}

// AppendMs appends a timer in milliseconds, -1 when it did not run (negative).
func AppendMs(b []byte, d time.Duration) []byte {
	if d < 0 {
		return append(b, "-1"...)
	}
	return strconv.AppendInt(b, d.Milliseconds(), 10)
}
