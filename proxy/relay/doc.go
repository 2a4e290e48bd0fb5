// Package relay forwards bytes both ways between two TCP connections with HAProxy's
// half-close and idle timeout semantics (timeout client/server, client-fin/server-fin,
// tunnel), holding no buffer, no pipe and, after a short quiet period, no goroutine while
// a connection is idle.
//
// Each direction waits for readability through Go's netpoller (syscall.RawConn). Small
// reads go through a pooled 16 KiB buffer with read/write; once a read fills the buffer
// the direction switches to splice(2) through a pooled pipe, and back when reads get
// small. Buffer and pipe are taken only when bytes are there and returned once drained,
// so an idle connection never holds the two pipe fds that io.Copy keeps. A direction
// quiet for ParkAfter parks in one shared epoll set (park.go) and its goroutine ends;
// readiness, its idle timeout or a kill brings it back in a new goroutine.
//
// That goroutine relay is ModeGoroutines. The default, ModeLoop (loop.go), hands both
// sockets to package evloop's level-triggered event loops instead: no goroutine per
// connection, no EAGAIN read per message; New, Run, Kill and Bytes behave the same, and
// the socket tests run in both modes. APPL_EVLOOP=off in the environment, or
// SetDefaultMode, selects the goroutines.
//
// It must not know about frontends, backends, balancing or logging: it reports bytes and
// the cause that ended the relay, in HAProxy's termination letters.
package relay
