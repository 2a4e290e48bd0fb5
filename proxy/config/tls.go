package config

import (
	"path/filepath"
	"strconv"
	"strings"

	"appl/internal/cfgfile"
	"appl/proxy/acl"
	"appl/proxy/tlsconf"
)

// This file decodes the TLS options of bind, server and global lines into the model,
// and loads the certificate files through proxy/tlsconf once the whole file is read
// (global defaults may follow the proxies in the file).

// tlsParam records a protocol option shared by binds and servers (versions, ciphers,
// no-tlsv1x...). It reports false when o is not one.
func (d *decoder) tlsParam(l cfgfile.Line, p *tlsconf.Params, o, val string) bool {
	switch o {
	case "ssl-min-ver", "ssl-max-ver":
		if err := tlsconf.CheckVersion(val); err != nil {
			d.errorf(l, "%s: %v", o, err)
		}
		if o == "ssl-min-ver" {
			p.MinVer = val
		} else {
			p.MaxVer = val
		}
	case "ciphers":
		p.Ciphers = val
	case "ciphersuites":
		p.CipherSuites = val
	case "curves":
		p.Curves = val
	default:
		if !tlsconf.ProtocolOptions[o] {
			return false
		}
		p.Options = append(p.Options, o)
	}
	return true
}

// bindTLS records a TLS option of a bind line; false when o is not one.
func (d *decoder) bindTLS(l cfgfile.Line, b *Bind, o, val string) bool {
	switch o {
	case "ssl":
		b.SSL = true
	case "crt":
		b.Crts = append(b.Crts, val)
	case "alpn":
		b.ALPN = strings.Split(val, ",")
	case "ca-file":
		b.CAFile = val
	case "verify":
		switch val {
		case "none", "optional", "required":
		default:
			d.errorf(l, "verify: unknown value %q (expected none, optional or required)", val)
		}
		b.Verify = val
	case "no-ca-names", "allow-0rtt":
		return false // recognised, not served: warned as unsupported
	default:
		return d.tlsParam(l, &b.SSLParams, o, val)
	}
	return true
}

// serverTLS records a TLS option of a server or default-server line; false when o is
// not one.
func (d *decoder) serverTLS(l cfgfile.Line, s *Server, o, val string) bool {
	switch o {
	case "ssl":
		s.SSL = true
	case "no-ssl":
		s.SSL = false
	case "verify":
		if val != "none" && val != "required" {
			d.errorf(l, "verify: unknown value %q (expected none or required)", val)
		}
		s.Verify = val
	case "ca-file":
		s.CAFile = val
	case "crt":
		s.Crt = val
	case "sni":
		e, err := acl.ParseExpr(val, d.aclOptions())
		if err != nil {
			d.errorf(l, "sni: %v (expected a sample expression such as str(www.example.com) or req.hdr(host))", err)
			return true
		}
		s.SNI = e
	case "alpn":
		s.ALPN = strings.Split(val, ",")
	case "verifyhost":
		s.VerifyHost = val
	case "no-verifyhost":
		s.VerifyHost = ""
	case "check-ssl":
		s.CheckSSL, s.NoCheckSSL = true, false
	case "no-check-ssl":
		s.CheckSSL, s.NoCheckSSL = false, true
	case "check-sni":
		s.CheckSNI = val
	case "no-ssl-reuse":
		s.NoSSLReuse = true
	case "ssl-reuse":
		s.NoSSLReuse = false
	case "allow-0rtt":
		return false
	default:
		return d.tlsParam(l, &s.SSLParams, o, val)
	}
	return true
}

// globalTLS decodes the global TLS directives; false when kw is not one.
func (d *decoder) globalTLS(l cfgfile.Line, kw string, args []string) bool {
	g := &d.cfg.Global
	switch kw {
	case "ssl-default-bind-options", "ssl-default-server-options":
		p := &g.SSLDefaultBind
		if kw == "ssl-default-server-options" {
			p = &g.SSLDefaultServer
		}
		for i := 0; i < len(args); i++ {
			o, val := args[i], ""
			if o == "ssl-min-ver" || o == "ssl-max-ver" {
				if i+1 >= len(args) {
					d.errorf(l, "%s needs a value (expected %s)", o, tlsconf.VersionNames)
					return true
				}
				val = args[i+1]
				i++
			} else if !tlsconf.ProtocolOptions[o] {
				d.errorf(l, "unknown option %q (expected ssl-min-ver VER, ssl-max-ver VER, no-tlsv1x, force-tlsv1x, no-tls-tickets, prefer-client-ciphers, ...)", o)
				continue
			}
			d.tlsParam(l, p, o, val)
		}
	case "ssl-default-bind-ciphers", "ssl-default-server-ciphers":
		if d.oneArg(l, args, "an OpenSSL cipher list") {
			p := &g.SSLDefaultBind
			if strings.Contains(kw, "server") {
				p = &g.SSLDefaultServer
			}
			p.Ciphers = args[0]
		}
	case "ssl-default-bind-ciphersuites", "ssl-default-server-ciphersuites":
		if d.oneArg(l, args, "a TLS 1.3 cipher suite list") {
			d.warnf(l, "ignored: Go does not let TLS 1.3 cipher suites be chosen (all of them are safe)")
		}
	case "ssl-default-bind-curves", "ssl-default-server-curves":
		if d.oneArg(l, args, "a curve list such as X25519:P-256") {
			p := &g.SSLDefaultBind
			if strings.Contains(kw, "server") {
				p = &g.SSLDefaultServer
			}
			p.Curves = args[0]
		}
	case "ssl-server-verify":
		if d.oneArg(l, args, "none or required") {
			if args[0] != "none" && args[0] != "required" {
				d.errorf(l, "unknown value %q (expected none or required)", args[0])
			}
			g.SSLServerVerify = args[0]
		}
	case "tune.ssl.default-dh-param":
		if n, ok := d.intArg(l, args, 1024, 1<<16, "a DH parameter size in bits"); ok {
			g.TuneSSLDefaultDHParam = n
			d.warnf(l, "ignored: Go offers no DHE key exchange (ECDHE only), so there are no DH parameters to size")
		}
	case "ssl-dh-param-file":
		if d.oneArg(l, args, "a file") {
			d.warnf(l, "ignored: Go offers no DHE key exchange (ECDHE only)")
		}
	case "crt-base":
		if d.oneArg(l, args, "a directory") {
			g.CrtBase = args[0]
		}
	case "ca-base":
		if d.oneArg(l, args, "a directory") {
			g.CaBase = args[0]
		}
	default:
		return false
	}
	return true
}

// globalTLSKeywords are the global directives globalTLS decodes.
var globalTLSKeywords = set("ssl-default-bind-options", "ssl-default-server-options",
	"ssl-default-bind-ciphers", "ssl-default-server-ciphers", "ssl-default-bind-ciphersuites",
	"ssl-default-server-ciphersuites", "ssl-default-bind-curves", "ssl-default-server-curves",
	"ssl-server-verify", "tune.ssl.default-dh-param", "ssl-dh-param-file", "crt-base", "ca-base")

// tlsPath resolves a crt or ca-file argument: base (crt-base, ca-base) first, then the
// directory relative map files use.
func (d *decoder) tlsPath(base, p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "@") {
		return p
	}
	if base != "" {
		p = filepath.Join(base, p)
		if filepath.IsAbs(p) {
			return p
		}
	}
	if d.opt.BaseDir != "" {
		return filepath.Join(d.opt.BaseDir, p)
	}
	return p
}

// merge puts a bind's or server's own options over the global defaults.
func merge(def, own tlsconf.Params) tlsconf.Params {
	out := def
	out.Options = append(append([]string(nil), def.Options...), own.Options...)
	if own.MinVer != "" {
		out.MinVer = own.MinVer
	}
	if own.MaxVer != "" {
		out.MaxVer = own.MaxVer
	}
	if own.Ciphers != "" {
		out.Ciphers = own.Ciphers
	}
	if own.CipherSuites != "" {
		out.CipherSuites = own.CipherSuites
	}
	if own.Curves != "" {
		out.Curves = own.Curves
	}
	return out
}

// bindALPN drops h3 from the ALPN list of a mode http bind (HTTP/3 runs over QUIC,
// not TCP); h2 is served (proxy/h2front) and http/1.1 too.
func bindALPN(d *decoder, l cfgfile.Line, alpn []string) []string {
	var out []string
	for _, p := range alpn {
		if p == "h3" {
			d.warnf(l, "alpn %s: HTTP/3 is not served (QUIC), h3 is not offered", strings.Join(alpn, ","))
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 && len(alpn) > 0 {
		out = []string{"http/1.1"}
	}
	return out
}

// http1Only drops h2 (and h3) from an ALPN list of a mode http server: appl talks
// HTTP/1.1 to servers, and a server that negotiated h2 would send frames it cannot
// read.
func http1Only(d *decoder, l cfgfile.Line, alpn []string) []string {
	var out, dropped []string
	for _, p := range alpn {
		if p == "h2" || p == "h3" {
			dropped = append(dropped, p)
			continue
		}
		out = append(out, p)
	}
	if len(dropped) > 0 {
		d.warnf(l, "alpn %s: servers are reached over HTTP/1.1, %s is not offered", strings.Join(alpn, ","), strings.Join(dropped, ","))
		if len(out) == 0 {
			out = []string{"http/1.1"}
		}
	}
	return out
}

// loadTLS reads the certificates of every ssl bind and server. Errors and warnings
// carry the line of the bind or server.
func (d *decoder) loadTLS() {
	g := &d.cfg.Global
	binds := map[cfgfile.Pos]*tlsconf.Bind{} // a port range shares one line's files
	for _, fe := range d.cfg.Frontends {
		for _, b := range fe.Binds {
			l := cfgfile.Line{Pos: b.Pos, Words: []string{"bind", b.Address}}
			for i, c := range b.Crts {
				b.Crts[i] = d.tlsPath(g.CrtBase, c)
			}
			b.CAFile = d.tlsPath(g.CaBase, b.CAFile)
			if !b.SSL {
				if len(b.Crts) > 0 || b.CAFile != "" {
					d.warnf(l, "crt/ca-file without ssl: the bind serves plain TCP (add `ssl`)")
				}
				continue
			}
			if t, ok := binds[b.Pos]; ok {
				b.TLS = t
				continue
			}
			if fe.Mode == ModeHTTP {
				b.ALPN = bindALPN(d, l, b.ALPN)
			}
			t, warns, err := tlsconf.NewBind(tlsconf.BindSpec{Crts: b.Crts, ALPN: b.ALPN, CAFile: b.CAFile, Verify: b.Verify, Params: merge(g.SSLDefaultBind, b.SSLParams)})
			if err != nil {
				d.errorf(l, "ssl: %v", err)
				continue
			}
			for _, w := range warns {
				d.warnf(l, "ssl: %s", w)
			}
			binds[b.Pos] = t
			b.TLS = t
		}
	}
	for _, be := range d.cfg.Backends {
		sslConnect := be.Check.usesSSLConnect()
		for _, s := range be.Servers {
			l := cfgfile.Line{Pos: s.Pos, Words: []string{"server", s.Name}}
			// A server without ssl whose checks use TLS (check-ssl, `http-check|tcp-check
			// connect ssl`) gets a client of its own for them, from the same options and
			// with the same default verify (HAProxy refuses it without a ca-file too).
			if !s.SSL && s.Check && (s.CheckSSL || sslConnect) {
				if t, ok := d.serverClient(l, be, s, "check-ssl", http1Only(d, l, s.ALPN)); ok {
					s.CheckTLS = t
				}
			}
			if !s.SSL {
				continue
			}
			if be.Mode == ModeHTTP {
				s.ALPN = http1Only(d, l, s.ALPN)
			}
			if t, ok := d.serverClient(l, be, s, "ssl", s.ALPN); ok {
				s.TLS = t
				s.CheckTLS = t
			}
		}
	}
}

// serverClient builds the TLS client of server s (its traffic, or only its checks:
// what names which in errors and warnings) with HAProxy's default verify
// (ssl-server-verify, else required) and crt-base/ca-base applied.
func (d *decoder) serverClient(l cfgfile.Line, be *Backend, s *Server, what string, alpn []string) (*tlsconf.Client, bool) {
	g := &d.cfg.Global
	if s.Verify == "" {
		s.Verify = g.SSLServerVerify
		if s.Verify == "" {
			s.Verify = "required"
		}
	}
	s.CAFile = d.tlsPath(g.CaBase, s.CAFile)
	s.Crt = d.tlsPath(g.CrtBase, s.Crt)
	t, warns, err := tlsconf.NewClient(tlsconf.ClientSpec{
		Verify: s.Verify, CAFile: s.CAFile, Crt: s.Crt, ALPN: alpn, VerifyHost: s.VerifyHost,
		NoReuse: s.NoSSLReuse, Params: merge(g.SSLDefaultServer, s.SSLParams),
	})
	if err != nil {
		d.errorf(l, "backend %s: %s: %v", strconv.Quote(be.Name), what, err)
		return nil, false
	}
	for _, w := range warns {
		d.warnf(l, "%s: %s", what, w)
	}
	return t, true
}

// usesSSLConnect reports whether an explicit check connect asks for TLS.
func (c *CheckSpec) usesSSLConnect() bool {
	if c.Kind == "httpchk" && c.HTTP != nil && c.HTTP.ConnectSSL {
		return true
	}
	for _, st := range c.TCPSteps {
		if c.Kind == "tcp-check" && st.Action == "connect" && st.SSL {
			return true
		}
	}
	return false
}
