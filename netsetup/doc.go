// Package netsetup owns the network bootstrap of an appl box: the `network` config
// section (interfaces, bridges with ports, addresses, routes and default gateways, policy
// rules, and the TPROXY plumbing transparent frontends need) and its plan -> diff ->
// apply -> verify -> rollback cycle, done through netlink (vishvananda/netlink) and
// nftables (google/nftables), never by running ip(8), iptables or nft.
//
// It touches only what it owns: its own nftables table (inet appl by default), policy
// rules in its priority range (10000-10999 by default), routes it tagged with its route
// protocol (97), and the links and addresses the config names. A second apply of the same
// config is an empty plan. Apply returns a snapshot that Rollback restores exactly, which
// is how `--try` undoes a change nobody confirmed.
//
// It must not know about the proxy, VRRP, replication, sysctl or the appliance: the
// appliance calls Decode/PlanFor/Apply, applctl calls RunCLI. Addresses with a finite
// lifetime (VRRP VIPs) are never removed by it.
package netsetup
