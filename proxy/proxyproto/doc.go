// Package proxyproto reads and writes PROXY protocol headers, version 1
// (text) and version 2 (binary), as specified by HAProxy's "The PROXY
// protocol" document and byte-compatible with what haproxy itself sends for
// send-proxy and send-proxy-v2.
//
// It owns the wire format only: classifying the first bytes of a connection,
// parsing a header into a Header, and appending a header to a byte slice. It
// consumes exactly the header and never a byte of the stream behind it, so the
// caller keeps using the same connection (and keeps splice(2) for *net.TCPConn).
//
// It must not know about frontends, backends, configuration or logging, and
// imports no other appl package. Timeouts are the caller's: set a read deadline
// on the connection before calling ReadConn.
package proxyproto
