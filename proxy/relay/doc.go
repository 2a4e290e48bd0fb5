// Package relay forwards bytes both ways between two TCP connections with splice(2),
// holding no pipe and no buffer while a connection is idle, with HAProxy's half-close and
// idle timeout semantics (timeout client/server, client-fin/server-fin, tunnel).
//
// A direction waits for readability through Go's netpoller (syscall.RawConn), takes a pipe
// from a shared pool only when bytes are there, splices them through and gives the pipe
// back once it is drained. An idle proxied connection therefore costs two parked
// goroutines and two sockets, never the two extra pipe fds that io.Copy keeps.
//
// It must not know about frontends, backends, balancing or logging: it reports bytes and
// the cause that ended the relay, in HAProxy's termination letters.
package relay
