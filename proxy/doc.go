// Package proxy is appl's data plane in tcp mode: it runs a decoded configuration
// (proxy/config) as listeners, frontends, backends and servers. It owns the connection
// path (accept, accept-proxy, use_backend rules, balancing with health, weights, maxconn
// and queues, backup servers, connect with retries and redispatch, transparent source,
// send-proxy, forwarding, the access log line), health-check scheduling, server state
// and its events, seamless reload and draining shutdown.
//
// The pieces that test without sockets live in subpackages: balance (algorithms), check
// (rise/fall machine and probes), accesslog (log lines, syslog) and relay (splice
// forwarding). It must not know about VRRP, replication, the admin API or the config file
// syntax: callers hand it a *config.Config and read Status and Subscribe.
package proxy
