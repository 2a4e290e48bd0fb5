package evloop

import "golang.org/x/sys/unix"

// Sides of a relayed connection; a direction is named by the side it reads from.
const (
	Client = 0
	Server = 1
)

var sideLetter = [2]byte{'C', 'S'}

// state is the I/O-free part of a relayed connection: from it follow what each socket
// waits for and when, and with which letter, the connection times out. The loop changes
// it after each system call and asks it what to register and when to look again.
type state struct {
	idle [2]int64 // idle timeout per side in ns (timeout client, timeout server), 0 none
	fin  [2]int64 // client-fin, server-fin in ns, 0 none
	last int64    // unix ns of the last transfer, either way
	// shut[i]: side i sent its FIN (we read EOF from it); the direction reading from i
	// ended.
	shut [2]bool
	// pending[i]: the direction reading from i holds bytes not yet written to 1-i.
	pending [2]bool
}

// interest is the epoll event set socket i waits for: readable while its direction runs
// and is not held up by a full peer, writable while the other direction has bytes for it.
func (s *state) interest(i int) uint32 {
	var ev uint32
	if !s.shut[i] && !s.pending[i] {
		ev |= unix.EPOLLIN
	}
	if s.pending[1-i] {
		ev |= unix.EPOLLOUT
	}
	return ev
}

// limit is the inactivity limit for waiting on side i and the letter it ends with: the
// side's idle timeout, shortened by a fin timeout once either side shut its write.
func (s *state) limit(i int) (int64, byte) {
	d, who := s.idle[i], sideLetter[i]|0x20
	for k := 0; k < 2; k++ {
		if f := s.fin[k]; f > 0 && s.shut[k] && (d == 0 || f < d) {
			d, who = f, sideLetter[k]|0x20
		}
	}
	return d, who
}

// deadline is when the connection times out if nothing moves (0: never) and the letter
// it then ends with. Each running direction waits either to read from its source or,
// holding bytes, to write to the other side; whichever limit comes first wins.
func (s *state) deadline() (int64, byte) {
	var at int64
	var who byte
	for src := 0; src < 2; src++ {
		if s.shut[src] {
			continue
		}
		side := src
		if s.pending[src] {
			side = 1 - src
		}
		if d, w := s.limit(side); d > 0 {
			if t := s.last + d; at == 0 || t < at {
				at, who = t, w
			}
		}
	}
	return at, who
}

// eof records that side src sent its FIN and reports whether the connection is over (the
// other side did too); otherwise the FIN must be passed on to the other side.
func (s *state) eof(src int) (over bool) {
	s.shut[src] = true
	return s.shut[1-src]
}
