package relay

import (
	"io"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestParkedRelayResumesOnData(t *testing.T) {
	base := Parked()
	client, server, res := setup(t, Options{ParkAfter: 30 * time.Millisecond})
	waitFor(t, "both directions parked", func() bool { return Parked() == base+2 })
	buf := make([]byte, 5)
	for k := 0; k < 3; k++ {
		client.Write([]byte("hello"))
		server.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("round %d: %q %v", k, buf, err)
		}
		server.Write([]byte("world"))
		client.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "world" {
			t.Fatalf("round %d: %q %v", k, buf, err)
		}
		waitFor(t, "parked again", func() bool { return Parked() == base+2 })
	}
	// FIN from a parked state still half-closes correctly.
	client.CloseWrite()
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(server); err != nil || len(b) != 0 {
		t.Fatalf("server after FIN: %q %v", b, err)
	}
	server.Write([]byte("bye"))
	server.CloseWrite()
	if b, _ := io.ReadAll(client); string(b) != "bye" {
		t.Fatalf("client got %q", b)
	}
	r := wait(t, res)
	if r.Cause != '-' || r.Bytes[Client] != 15 || r.Bytes[Server] != 18 {
		t.Fatalf("%+v", r)
	}
	waitFor(t, "nothing parked", func() bool { return Parked() == base })
}

func TestParkedRelayTimesOut(t *testing.T) {
	start := time.Now()
	_, _, res := setup(t, Options{ParkAfter: 20 * time.Millisecond, Idle: [2]time.Duration{200 * time.Millisecond, time.Hour}})
	r := wait(t, res)
	if r.Cause != 'c' || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("%+v after %v", r, time.Since(start))
	}
}

func TestKillParkedRelay(t *testing.T) {
	base := Parked()
	client, pc := pair(t)
	ps, _ := pair(t)
	res := make(chan Result, 1)
	r, _ := Start(pc, ps, Options{ParkAfter: 20 * time.Millisecond, Mode: ModeGoroutines}, func(r Result) { res <- r })
	waitFor(t, "parked", func() bool { return Parked() == base+2 })
	r.Kill('K')
	if got := wait(t, res); got.Cause != 'K' {
		t.Fatalf("%+v", got)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Fatal("client still connected")
	}
	if Parked() != base {
		t.Fatalf("%d still parked", Parked()-base)
	}
}
