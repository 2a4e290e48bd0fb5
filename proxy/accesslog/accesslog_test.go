package accesslog

import (
	"bytes"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTCPLogMatchesHAProxy(t *testing.T) {
	e := &Entry{
		Client:   netip.MustParseAddrPort("10.0.0.1:33522"),
		Accept:   time.Date(2026, 11, 3, 9, 5, 7, 42e6, time.Local),
		Frontend: "fe_smtp", Backend: "be_smtp", Server: "mail1",
		Tw: 0, Tc: 2 * time.Millisecond, Tt: 5012 * time.Millisecond,
		Bytes: 1234, Term: [2]byte{'-', '-'},
		ActConn: 3, FeConn: 2, BeConn: 1, SrvConn: 1, Retries: 1, Redisp: true,
	}
	got := string(AppendTCPLog(nil, e))
	want := "10.0.0.1:33522 [03/Nov/2026:09:05:07.042] fe_smtp be_smtp/mail1 0/2/5012 1234 -- 3/2/1/1/+1 0/0"
	if got != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
	e.Tc, e.Term = -1, [2]byte{'S', 'C'}
	if got := string(AppendTCPLog(nil, e)); !strings.Contains(got, " 0/-1/5012 1234 SC ") {
		t.Fatalf("got %q", got)
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := Open(Target{Address: "udp:" + pc.LocalAddr().String(), Facility: "local0", Level: "info"}, "haproxy")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Send(Debug, time.Now(), []byte("filtered out"))
	s.Send(Info, time.Date(2026, 11, 3, 9, 5, 7, 0, time.Local), []byte("hello"))
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1024)
	n, _, err := pc.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^<134>Nov  3 09:05:07 haproxy\[\d+\]: hello\n$`)
	if !re.Match(b[:n]) {
		t.Fatalf("got %q", b[:n])
	}
	if _, err := Open(Target{Address: "stdout", Facility: "nope"}, "x"); err == nil {
		t.Fatal("unknown facility accepted")
	}
}

func TestRawWriter(t *testing.T) {
	var buf bytes.Buffer
	s := NewWriterSink(&buf, "raw", "local0", "haproxy")
	s.Send(Info, time.Now(), []byte("line"))
	if buf.String() != "line\n" {
		t.Fatalf("%q", buf.String())
	}
}
