// Package accesslog formats HAProxy's per-connection log lines (tcplog, byte for byte in
// HAProxy's field order and date format, so existing log parsers keep working) and sends
// log lines to their targets: stdout/stderr, or syslog (RFC 3164 or 5424 headers) over UDP
// or a unix datagram socket.
//
// It must not know about sockets of the data plane, frontends or backends: the caller
// fills an Entry with names and figures and picks the targets.
package accesslog
