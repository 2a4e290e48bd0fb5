// Package appliance composes one appl node from one configuration file: it hands each
// section kind to the package that owns it (proxy, vrrp, sysctl, netsetup, replication),
// then runs them in order — bootstrap, proxy, replication, VRRP — and stops them in
// reverse, releasing the virtual IPs before listeners close so the peer takes over
// first, and flushing replicated stick updates before the proxy stops. With a cluster
// section it serves the runtime API through appliance/cluster, so map and server writes
// are committed before they are answered, and makes Raft leadership follow VRRP
// mastership. `appld --witness` runs only replication and the admin API.
//
// It is the only place that knows all the parts; the parts never import each other.
package appliance
