// Package appliance composes one appl node from one configuration file: it hands each
// section kind to the package that owns it (proxy, vrrp, sysctl, netsetup), then runs
// them in order — bootstrap, proxy, VRRP — and stops them in reverse, releasing the
// virtual IPs before listeners close so the peer takes over first.
//
// It is the only place that knows all the parts; the parts never import each other.
package appliance
