// Package sysctl owns the kernel tuning of an appl box: the `sysctl` config section, the
// built-in "loadbalancer" profile (seed 000's list and seed 001's TPROXY keys, with the
// absolute values scaled to the box's memory), and the plan -> diff -> apply -> verify ->
// persist cycle against /proc/sys. It also raises the process's own RLIMIT_NOFILE.
//
// It knows which keys belong to a network namespace: those are read and written through
// /proc/sys of the calling thread, so running it inside a namespace tunes that namespace.
// The /proc/sys root is injectable so tests exercise global keys (fs.*, vm.*, kernel.*)
// against a fake tree and never write the host's.
//
// It must not know about the proxy, VRRP, replication, netsetup or the appliance: the
// appliance calls Decode/PlanFor/Apply and RaiseNofile, applctl calls RunCLI.
package sysctl
