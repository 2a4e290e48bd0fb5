package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"appl/internal/cfgfile"
)

// bindFlags are bind options without a value; bindValued take one.
var bindFlags = set("transparent", "accept-proxy", "v4v6", "v6only", "ssl", "allow-0rtt",
	"defer-accept", "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12",
	"force-tlsv13", "generate-certificates", "no-alpn", "no-ca-names", "no-sslv3",
	"no-tls-tickets", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
	"prefer-client-ciphers", "quic-force-retry", "strict-sni", "tfo")

var bindValued = set("name", "crt", "alpn", "backlog", "ca-file", "ca-ignore-err",
	"ca-sign-file", "ca-sign-pass", "ca-verify-file", "ciphers", "ciphersuites",
	"client-sigalgs", "crl-file", "crt-ignore-err", "crt-list", "curves", "ecdhe",
	"expose-fd", "gid", "group", "guid-prefix", "id", "idle-ping", "interface", "label",
	"level", "maxconn", "mode", "mss", "namespace", "nbconn", "nice", "npn", "proto",
	"process", "quic-cc-algo", "quic-socket", "severity-output", "shards", "sigalgs",
	"ssl-max-ver", "ssl-min-ver", "tcp-md5sig", "tcp-ut", "thread", "tls-ticket-keys",
	"uid", "user", "verify", "accept-netscaler-cip")

// bindAddrs decodes `bind ADDR[,ADDR...] [options]`; each address and each port of a
// range becomes one Bind sharing the options.
func (d *decoder) bindAddrs(p *proxy, l cfgfile.Line, list string, opts []string) {
	tmpl := Bind{Pos: l.Pos, Options: map[string]string{}}
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		val := ""
		switch {
		case bindFlags[o]:
		case bindValued[o]:
			if i+1 >= len(opts) {
				d.errorf(l, "bind option %q needs a value", o)
				return
			}
			val = opts[i+1]
			i++
		default:
			if s := closest(o, keys(bindFlags, bindValued)); s != "" {
				d.errorf(l, "unknown bind option %q (did you mean %q?)", o, s)
			} else {
				d.errorf(l, "unknown bind option %q (expected transparent, accept-proxy, name, v4v6, v6only, ssl, crt, alpn, ...)", o)
			}
			return
		}
		switch o {
		case "transparent":
			tmpl.Transparent = true
		case "accept-proxy":
			tmpl.AcceptProxy = true
		case "v4v6":
			tmpl.V4V6 = true
		case "v6only":
			tmpl.V6Only = true
		case "name":
			tmpl.Name = val
		default:
			if !d.bindTLS(l, &tmpl, o, val) {
				tmpl.Options[o] = val
			}
		}
		// `proto h2` (HTTP/2 with prior knowledge, proxy/h2front) is served.
		if Unsupported["bind"][o] && !(o == "proto" && val == "h2") {
			d.unsupported(l, "bind "+o)
		}
	}
	if tmpl.V4V6 && tmpl.V6Only {
		d.errorf(l, "v4v6 and v6only exclude each other")
		return
	}
	if list == "" {
		d.errorf(l, "empty address (expected ADDR:PORT)")
		return
	}
	for _, a := range strings.Split(list, ",") {
		binds, ok := d.bindAddr(l, a, &tmpl)
		if !ok {
			return
		}
		p.binds = append(p.binds, binds...)
	}
}

func (d *decoder) bindAddr(l cfgfile.Line, a string, tmpl *Bind) ([]*Bind, bool) {
	const expected = "expected ADDR:PORT, :PORT, *:PORT, [IPv6]:PORT, ADDR:LOW-HIGH or a unix socket path"
	hp, err := splitAddr(a)
	if err != nil {
		d.errorf(l, "%v (%s)", err, expected)
		return nil, false
	}
	mk := func(network, addr string) *Bind {
		b := *tmpl
		b.Crts = append([]string(nil), tmpl.Crts...)
		b.ALPN = append([]string(nil), tmpl.ALPN...)
		b.Options = make(map[string]string, len(tmpl.Options))
		for k, v := range tmpl.Options {
			b.Options[k] = v
		}
		b.Network, b.Address = network, addr
		return &b
	}
	family := ""
	switch hp.proto {
	case "":
	case "unix":
		if hp.host == "" {
			d.errorf(l, "empty unix socket path (%s)", expected)
			return nil, false
		}
		return []*Bind{mk("unix", hp.host)}, true
	case "ipv4", "tcp4":
		family = "4"
	case "ipv6", "tcp6":
		family = "6"
	case "tcp":
	case "mptcp", "mptcp4", "mptcp6":
		d.unsupported(l, hp.proto+"@ (Multipath TCP) listeners")
		family = strings.TrimPrefix(hp.proto, "mptcp")
		tmpl = func() *Bind { c := *tmpl; c.Options = map[string]string{"mptcp": "true"}; return &c }()
	case "abns", "fd", "sockpair", "quic4", "quic6", "udp", "udp4", "udp6", "uxst", "uxdg", "rhttp":
		d.unsupported(l, hp.proto+"@ listeners")
		return nil, true
	default:
		d.errorf(l, "unknown address prefix %q (expected ipv4@, ipv6@, unix@ or mptcp@)", hp.proto+"@")
		return nil, false
	}
	if !hp.hasPort || hp.port == "" {
		d.errorf(l, "missing port in %q (%s)", a, expected)
		return nil, false
	}
	lo, hi, err := parsePortRange(hp.port)
	if err != nil {
		d.errorf(l, "%v (%s)", err, expected)
		return nil, false
	}
	host := hp.host
	network := "tcp"
	if host == "" {
		host = "0.0.0.0"
		if family == "6" {
			host = "::"
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		switch {
		case ip.Is4() || ip.Is4In6() && family == "4":
			network = "tcp4"
			if family == "6" {
				d.errorf(l, "ipv6@ with an IPv4 address %q", host)
				return nil, false
			}
		case ip.IsUnspecified() && !tmpl.V6Only:
			network = "tcp" // [::] listens on IPv4 too, as HAProxy does on Linux
		default:
			network = "tcp6"
			if family == "4" {
				d.errorf(l, "ipv4@ with an IPv6 address %q", host)
				return nil, false
			}
		}
	} else if family != "" {
		network = "tcp" + family
	}
	if hi-lo+1 > 65535 {
		return nil, false
	}
	var out []*Bind
	for port := lo; port <= hi; port++ {
		out = append(out, mk(network, net.JoinHostPort(host, strconv.Itoa(port))))
	}
	return out, true
}
