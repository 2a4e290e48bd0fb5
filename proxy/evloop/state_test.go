package evloop

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestInterest(t *testing.T) {
	var s state
	if s.interest(Client) != unix.EPOLLIN || s.interest(Server) != unix.EPOLLIN {
		t.Fatal("fresh connection must read both sides")
	}
	// Client bytes wait for the server to take them: stop reading the client, wait for
	// the server to be writable, keep reading the server.
	s.pending[Client] = true
	if s.interest(Client) != 0 || s.interest(Server) != unix.EPOLLIN|unix.EPOLLOUT {
		t.Fatalf("pending: client %x server %x", s.interest(Client), s.interest(Server))
	}
	s.pending[Client] = false
	// Client sent FIN: nothing more to read from it, the server direction goes on.
	if s.eof(Client) {
		t.Fatal("over after one FIN")
	}
	if s.interest(Client) != 0 || s.interest(Server) != unix.EPOLLIN {
		t.Fatalf("half-closed: client %x server %x", s.interest(Client), s.interest(Server))
	}
	if !s.eof(Server) {
		t.Fatal("not over after both FINs")
	}
}

func TestDeadline(t *testing.T) {
	const ms = int64(1e6)
	s := state{idle: [2]int64{100 * ms, 3600e3 * ms}, last: 1000 * ms}
	if at, who := s.deadline(); at != 1100*ms || who != 'c' {
		t.Fatalf("client timeout: %d %c", at, who)
	}
	s.idle = [2]int64{3600e3 * ms, 100 * ms}
	if at, who := s.deadline(); at != 1100*ms || who != 's' {
		t.Fatalf("server timeout: %d %c", at, who)
	}
	// Activity moves it.
	s.last = 2000 * ms
	if at, _ := s.deadline(); at != 2100*ms {
		t.Fatalf("after activity: %d", at)
	}
	// No timeouts: never.
	if at, _ := (&state{last: 5}).deadline(); at != 0 {
		t.Fatalf("no timeout gives %d", at)
	}
}

func TestDeadlineWhileWriting(t *testing.T) {
	const ms = int64(1e6)
	// Only the server side has a short limit; the client direction reads the client
	// (long) until it holds bytes for the server, then waits on the server (short).
	s := state{idle: [2]int64{3600e3 * ms, 100 * ms}}
	s.shut[Server] = true // server direction over: only the client direction counts
	if at, who := s.deadline(); at != 3600e3*ms || who != 'c' {
		t.Fatalf("reading client: %d %c", at, who)
	}
	s.pending[Client] = true
	if at, who := s.deadline(); at != 100*ms || who != 's' {
		t.Fatalf("writing to server: %d %c", at, who)
	}
}

func TestFinTimeout(t *testing.T) {
	const ms = int64(1e6)
	s := state{idle: [2]int64{3600e3 * ms, 3600e3 * ms}, fin: [2]int64{100 * ms, 0}}
	if at, _ := s.deadline(); at != 3600e3*ms {
		t.Fatalf("before FIN: %d", at)
	}
	s.eof(Client)
	// The server direction still runs, now under client-fin.
	if at, who := s.deadline(); at != 100*ms || who != 'c' {
		t.Fatalf("after client FIN: %d %c", at, who)
	}
}
