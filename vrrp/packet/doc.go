// Package packet encodes and decodes the advertisements of VRRPv2 (RFC 3768), VRRPv3
// (RFC 5798 / RFC 9568, IPv4 and IPv6) and CARP (the OpenBSD/FreeBSD carp(4) format with
// its HMAC-SHA1 signature).
//
// It owns the wire format only: byte layouts, checksums (with the IPv4/IPv6 pseudo-header
// for VRRPv3), authentication fields and validation of what a receiver must reject. It
// knows nothing of sockets, timers or state: the IP header (TTL, addresses) is the
// caller's, who passes the source and destination addresses in for checksums.
package packet
