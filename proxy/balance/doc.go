// Package balance holds HAProxy's load-balancing algorithms as pure functions over a Pool:
// roundrobin (smooth weighted, dynamic weights), static-rr, leastconn, first, source
// (map-based and consistent hashing) and random, and the L7 hashing algorithms (uri,
// url_param, hdr, rdp-cookie, hash) over a key of request bytes (KeyBytes).
//
// It owns only the choice of a server index. It must not know about sockets, health
// checks, queues or configuration files: the caller describes the servers through Pool
// (usable now, effective weight, current load) and serialises calls to Pick.
package balance
