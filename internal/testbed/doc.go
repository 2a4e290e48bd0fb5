// Package testbed builds test hosts out of network namespaces for integration tests:
// hosts (one netns each), switches (a Linux bridge living in its own netns), veth links
// between them, addresses in 198.18.0.0/15, and processes started inside a host.
//
// Everything a Bed creates is removed by t.Cleanup, and it never touches the host's own
// namespace: links are created inside the namespaces or moved there at once. It needs
// root (CAP_NET_ADMIN) and iproute2; without them New skips the test with a message that
// says so. It shells out to ip(8) on purpose: it is test plumbing, not product code.
package testbed
