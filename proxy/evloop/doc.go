// Package evloop relays established TCP connections from a few level-triggered epoll
// loops (one per GOMAXPROCS) instead of two goroutines per connection, the way haproxy
// does it. A relayed connection costs its two raw sockets and one small struct; a
// request/response exchange costs one read and one write per direction, without the
// EAGAIN read that Go's edge-triggered netpoller needs before it can park a goroutine.
// Start passes on what the client already sent before the sockets enter a loop (a
// speculative first read, as haproxy's), so a new connection's request costs the loop
// no wake-up.
//
// The package owns: the loops, the per-connection relay state machine (state.go: what
// each socket waits for, when the connection times out, which termination letter ends
// it; pure, tested without sockets), the copy buffers and splice pipes, and a
// non-blocking connect whose completion the loop reports (Dial).
//
// It keeps package relay's semantics (relay's tests run against it): activity in either
// direction refreshes both idle timeouts, client-fin/server-fin shorten them once a side
// shut its write, half-close passes the FIN on and keeps the other direction, bytes per
// direction and HAProxy's first termination letter are reported once at the end, after
// both sockets are closed.
//
// It must not know about frontends, backends, balancing or logging.
package evloop
