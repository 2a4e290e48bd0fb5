// Package e2e holds the appliance's end-to-end tests: real appld and applctl binaries,
// two nodes with one configuration file, backends and a client, each in its own network
// namespace (internal/testbed). It has no code of its own.
package e2e
