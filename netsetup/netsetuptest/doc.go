// Package netsetuptest builds the seed-000 test bed (client A, appliance host B routing
// between two subnets, backend C behind a switch) and a transparent relay standing in for
// a transparent proxy, for netsetup's integration tests and for the appliance's.
// It is test support: it shells out to ip(8) and sysctl(8) through internal/testbed.
package netsetuptest
