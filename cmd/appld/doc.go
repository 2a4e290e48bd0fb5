// Command appld is the appl node daemon: it loads one configuration file (or the
// embedded default), applies the bootstrap sections, runs the proxy and the VRRP/CARP
// speaker, reloads on SIGHUP and drains on SIGTERM.
package main
