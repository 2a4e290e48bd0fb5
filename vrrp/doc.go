// Package vrrp is appl's VRRP/CARP speaker: it owns the virtual IPs of a node.
//
// It decodes the `vrrp NAME`, `carp NAME` and `vrrp-group NAME` sections (config.go),
// runs one state machine per instance (vrrp/fsm) fed by advertisements from raw IP
// protocol 112 sockets (vrrp/packet is the codec), installs the VIPs through netlink with
// a kernel lifetime refreshed by every advertisement sent, announces them with
// gratuitous ARP / unsolicited NA, runs notify hooks and script checks, and publishes
// state changes to the rest of appl (Subscribe, Status). With use-vmac (vmac.go) it
// also owns a macvlan per instance carrying the virtual router MAC, and sets that
// macvlan's and its parent's ARP sysctls itself (restoring the parent's on stop).
//
// It must not know the proxy, replication, sysctl or network setup packages: the
// appliance feeds it check results through SetCheck and reads its events.
package vrrp
