// Package admin is appl's admin API: JSON over HTTP, served on a unix socket (mode 0600,
// the default control path for applctl) and optionally on HTTPS with a bearer token.
// It owns the routes, authentication, CSRF rule, the failover procedure (demote, wait
// for the peer to become master, measure) and the client that applctl and the peer
// node use.
//
// It does not know the proxy, the VRRP speaker or the configuration format: a running
// node implements Target (appliance does), and server state changes go through the
// runtime API's own command execution (Target.Runtime), never a second implementation.
package admin
