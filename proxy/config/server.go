package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"appl/internal/cfgfile"
)

// serverFlags are server options without a value; serverValued take one.
var serverFlags = set("backup", "check", "disabled", "send-proxy", "send-proxy-v2",
	"agent-check", "allow-0rtt", "check-send-proxy", "check-ssl", "check-via-socks4",
	"enabled", "force-sslv3", "force-tlsv10", "force-tlsv11", "force-tlsv12",
	"force-tlsv13", "no-agent-check", "no-backup", "no-check", "no-check-ssl",
	"no-send-proxy", "no-send-proxy-v2", "no-send-proxy-v2-ssl", "no-send-proxy-v2-ssl-cn",
	"no-ssl", "no-ssl-reuse", "no-sslv3", "no-tfo", "no-tls-tickets", "no-tlsv10",
	"no-tlsv11", "no-tlsv12", "no-tlsv13", "no-verifyhost", "non-stick",
	"send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "ssl", "ssl-reuse", "stick",
	"strict-maxconn", "tfo", "tls-tickets", "check-reuse-pool")

var serverValued = set("weight", "maxconn", "maxqueue", "inter", "fastinter", "downinter",
	"rise", "fall", "port", "addr", "slowstart", "on-marked-down", "on-marked-up", "cookie",
	"agent-addr", "agent-inter", "agent-port", "agent-send", "alpn", "ca-file", "check-alpn",
	"check-proto", "check-sni", "ciphers", "ciphersuites", "client-sigalgs", "crl-file",
	"crt", "curves", "error-limit", "guid", "hash-key", "id", "init-addr", "init-state",
	"log-bufsize", "log-proto", "max-reuse", "minconn", "namespace", "npn", "observe",
	"on-error", "pool-conn-name", "pool-low-conn", "pool-max-conn", "pool-purge-delay",
	"proto", "proxy-v2-options", "redir", "resolve-net", "resolve-opts", "resolve-prefer",
	"resolvers", "set-proxy-v2-tlv-fmt", "shard", "sigalgs", "sni", "socks4", "ssl-max-ver",
	"ssl-min-ver", "tcp-md5sig", "tcp-ut", "track", "verify", "verifyhost", "ws")

// server decodes `server NAME ADDR[:PORT] [options]` on top of default-server.
func (d *decoder) server(p *proxy, l cfgfile.Line, args []string) {
	if len(args) < 2 {
		d.errorf(l, "needs a name and an address (expected server NAME ADDR[:PORT] [options])")
		return
	}
	s := cloneServer(&p.defServer)
	s.Pos, s.Name = l.Pos, args[0]
	if !d.serverAddr(l, &s, args[1]) {
		return
	}
	if !d.serverOptions(p, l, &s, args[2:], false) {
		return
	}
	if s.FastInter == 0 {
		s.FastInter = s.Inter
	}
	if s.DownInter == 0 {
		s.DownInter = s.Inter
	}
	p.servers = append(p.servers, &s)
}

// serverAddr reads ADDR[:PORT], ADDR:+N / ADDR:-N (offset from the destination port),
// or ADDR alone (same port as the client connected to).
func (d *decoder) serverAddr(l cfgfile.Line, s *Server, a string) bool {
	const expected = "expected HOST, HOST:PORT, HOST:+OFFSET, [IPv6]:PORT or unix@PATH"
	hp, err := splitAddr(a)
	if err != nil {
		d.errorf(l, "%v (%s)", err, expected)
		return false
	}
	switch hp.proto {
	case "", "ipv4", "ipv6", "tcp", "tcp4", "tcp6":
	case "unix":
		s.Address, s.Port = "unix@"+hp.host, 0
		return true
	case "mptcp", "mptcp4", "mptcp6":
		d.unsupported(l, hp.proto+"@ (Multipath TCP) servers")
		if s.Options == nil {
			s.Options = map[string]string{}
		}
		s.Options["mptcp"] = "true"
	case "abns", "sockpair", "udp", "quic4", "quic6", "rhttp":
		d.errorf(l, "unsupported server address family %q (appl connects over TCP or unix sockets)", hp.proto+"@")
		return false
	default:
		d.errorf(l, "unknown address prefix %q (%s)", hp.proto+"@", expected)
		return false
	}
	host := hp.host
	if host == "" {
		host = "0.0.0.0" // HAProxy: connect to the address the client connected to
	}
	s.Address, s.Port, s.PortOffset = host, 0, false
	if hp.hasPort && hp.port != "" {
		ps := hp.port
		if ps[0] == '+' || ps[0] == '-' {
			n, err := parseInt(ps[1:], 0, 65535)
			if err != nil {
				d.errorf(l, "bad port offset %q (%s)", ps, expected)
				return false
			}
			if ps[0] == '-' {
				n = -n
			}
			s.Port, s.PortOffset = n, true
		} else {
			n, err := parseInt(ps, 1, 65535)
			if err != nil {
				d.errorf(l, "bad port %q (%s)", ps, expected)
				return false
			}
			s.Port = n
		}
	}
	return true
}

// serverOptions applies options to s; dflt is true for default-server lines.
func (d *decoder) serverOptions(p *proxy, l cfgfile.Line, s *Server, args []string, dflt bool) bool {
	ok := true
	for i := 0; i < len(args); i++ {
		o := args[i]
		val := ""
		switch {
		case serverFlags[o]:
		case serverValued[o]:
			if i+1 >= len(args) {
				d.errorf(l, "server option %q needs a value", o)
				return false
			}
			val = args[i+1]
			i++
		case o == "source":
			// The address, then any `usesrc X` and `interface X` pairs.
			j := i + 2
			for j < len(args) && (args[j] == "usesrc" || args[j] == "interface") {
				j += 2
			}
			j = min(j, len(args))
			src, good := d.source(l, args[i+1:j])
			if !good {
				return false
			}
			s.Source = src
			i = j - 1
			continue
		default:
			if s := closest(o, append(keys(serverFlags, serverValued), "source")); s != "" {
				d.errorf(l, "unknown server option %q (did you mean %q?)", o, s)
			} else {
				d.errorf(l, "unknown server option %q (expected weight, maxconn, maxqueue, check, inter, rise, fall, port, addr, backup, send-proxy, ...)", o)
			}
			return false
		}
		var err error
		switch o {
		case "weight":
			s.Weight, err = parseInt(val, 0, 256)
		case "maxconn":
			s.MaxConn, err = parseInt(val, 0, 1<<30)
		case "maxqueue":
			s.MaxQueue, err = parseInt(val, 0, 1<<30)
		case "inter", "fastinter", "downinter", "slowstart":
			var t time.Duration
			t, err = parseDuration(val)
			if err == nil && t == 0 && o != "slowstart" {
				err = errorString("must be positive")
			}
			switch o {
			case "inter":
				s.Inter = t
			case "fastinter":
				s.FastInter = t
			case "downinter":
				s.DownInter = t
			case "slowstart":
				s.SlowStart = t
			}
		case "rise":
			s.Rise, err = parseInt(val, 1, 1<<20)
		case "fall":
			s.Fall, err = parseInt(val, 1, 1<<20)
		case "port":
			s.CheckPort, err = parseInt(val, 1, 65535)
		case "addr":
			if e := checkHost(strings.Trim(val, "[]")); e != nil {
				if hp, e2 := splitAddr(val); e2 == nil && hp.host != "" {
					val = hp.host
				} else {
					err = e
				}
			}
			s.CheckAddr = val
		case "check":
			s.Check = true
		case "no-check":
			s.Check = false
		case "backup":
			s.Backup = true
		case "no-backup":
			s.Backup = false
		case "disabled":
			s.Disabled = true
		case "enabled":
			s.Disabled = false
		case "send-proxy":
			s.SendProxy = true
		case "no-send-proxy":
			s.SendProxy = false
		case "send-proxy-v2":
			s.SendProxyV2 = true
		case "no-send-proxy-v2":
			s.SendProxyV2 = false
		case "on-marked-down":
			if val != "shutdown-sessions" {
				err = errorString("unknown action " + strconv.Quote(val) + " (expected shutdown-sessions)")
			}
			s.OnMarkedDown = val
		case "on-marked-up":
			if val != "shutdown-backup-sessions" {
				err = errorString("unknown action " + strconv.Quote(val) + " (expected shutdown-backup-sessions)")
			}
			s.OnMarkedUp = val
		case "cookie":
			if dflt {
				err = errorString("not allowed on default-server (expected it on each server line)")
			}
			s.Cookie = val
		case "minconn":
			// minconn 0 is HAProxy's default and changes nothing.
			if val != "0" {
				d.keepServerOption(p, l, s, o, val)
			}
			continue
		default:
			if !d.serverTLS(l, s, o, val) {
				d.keepServerOption(p, l, s, o, val)
			}
			continue
		}
		if err != nil {
			d.errorf(l, "%s: %v", o, err)
			ok = false
		}
	}
	return ok
}

// keepServerOption stores an option appl recognises but does not serve yet.
func (d *decoder) keepServerOption(p *proxy, l cfgfile.Line, s *Server, o, val string) {
	if s.Options == nil {
		s.Options = map[string]string{}
	}
	s.Options[o] = val
	kind := "server " + o
	if p.warned[kind] {
		return
	}
	p.warned[kind] = true
	d.unsupported(l, "server option "+o)
}

// source decodes `source ADDR[:PORT[-PORT]] [usesrc clientip|client|ADDR[:PORT]] [interface NAME]`.
func (d *decoder) source(l cfgfile.Line, args []string) (*Source, bool) {
	const expected = "expected source ADDR[:PORT] [usesrc clientip|client|ADDR] [interface NAME]"
	if len(args) == 0 {
		d.errorf(l, "source needs an address (%s)", expected)
		return nil, false
	}
	hp, err := splitAddr(args[0])
	if err != nil || (hp.proto != "" && hp.proto != "ipv4" && hp.proto != "ipv6") {
		d.errorf(l, "bad source address %q (%s)", args[0], expected)
		return nil, false
	}
	src := &Source{Pos: l.Pos}
	host := hp.host
	if host == "" {
		host = "0.0.0.0"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		d.errorf(l, "bad source address %q: an IP address is needed (%s)", host, expected)
		return nil, false
	}
	src.Addr = ip
	if hp.hasPort && hp.port != "" {
		lo, hi, err := parsePortRange(hp.port)
		if err != nil {
			d.errorf(l, "source: %v (%s)", err, expected)
			return nil, false
		}
		src.Port = uint16(lo)
		if hi != lo {
			src.PortMax = uint16(hi)
		}
	}
	rest := args[1:]
	for len(rest) > 0 {
		if len(rest) < 2 {
			d.errorf(l, "source %s needs a value (%s)", rest[0], expected)
			return nil, false
		}
		switch rest[0] {
		case "usesrc":
			v := rest[1]
			switch {
			case v == "clientip" || v == "client":
				src.UseSrc = v
			case strings.HasPrefix(v, "hdr_ip("):
				d.errorf(l, "unsupported usesrc %q (appl implements clientip, client and an address)", v)
				return nil, false
			default:
				uh, err := splitAddr(v)
				if err != nil {
					d.errorf(l, "bad usesrc address %q (%s)", v, expected)
					return nil, false
				}
				if _, err := netip.ParseAddr(uh.host); err != nil {
					d.errorf(l, "bad usesrc address %q (%s)", v, expected)
					return nil, false
				}
				src.UseSrc = v
			}
		case "interface":
			src.Interface = rest[1]
		default:
			d.errorf(l, "unexpected %q in source (%s)", rest[0], expected)
			return nil, false
		}
		rest = rest[2:]
	}
	return src, true
}
