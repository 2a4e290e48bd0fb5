package proxy

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	"appl/proxy/config"
)

// This file decides how a server's health check connections are made beyond the
// address: TLS (check-ssl and HAProxy's defaults) and the PROXY header. buildServer
// resolves both once per configuration generation into the check.Probe.

// checkTLS is the TLS configuration of one check connection of server sc, nil for a
// plain one. ssl is the connect rule's `ssl`; dflt means the server line decides
// (check-ssl, or an ssl server checked on its own address, unless no-check-ssl: see
// config.Server.ChecksOverTLS). The SNI is the rule's `sni`, else with dflt the server's
// check-sni; none otherwise (HAProxy never sends the traffic's `sni` in checks). An
// HTTP check offers only HTTP/1.x in ALPN: it speaks nothing else.
func checkTLS(sc *config.Server, ssl, dflt bool, sni string, http bool) (*tls.Config, error) {
	if dflt {
		ssl = ssl || sc.ChecksOverTLS()
		if sni == "" {
			sni = sc.CheckSNI
		}
	}
	if !ssl {
		return nil, nil
	}
	if sc.CheckTLS == nil {
		return nil, fmt.Errorf("health check over TLS without a TLS configuration (set ssl or check-ssl with verify on the server)")
	}
	c := sc.CheckTLS.Config(sni)
	if http && slices.ContainsFunc(c.NextProtos, func(p string) bool { return !strings.HasPrefix(p, "http/1.") }) {
		c = c.Clone()
		c.NextProtos = slices.DeleteFunc(slices.Clone(c.NextProtos), func(p string) bool { return !strings.HasPrefix(p, "http/1.") })
	}
	return c, nil
}

// checkProxyHeader is the PROXY header version the server's checks send on their
// default connection: HAProxy sends the server's send-proxy (v1) or send-proxy-v2 (a
// LOCAL header) on checks to the server's own address, not when `port` or `addr` sends
// them elsewhere (measured on 2.6; check-send-proxy, which forces it, is not
// implemented).
func checkProxyHeader(sc *config.Server) int {
	if sc.CheckPort != 0 || sc.CheckAddr != "" {
		return 0
	}
	switch {
	case sc.SendProxyV2:
		return 2
	case sc.SendProxy:
		return 1
	}
	return 0
}
