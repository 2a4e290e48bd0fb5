package tlsconf

import (
	"crypto/tls"
	"fmt"
	"sort"
	"strings"
)

// Params are the protocol options shared by binds and servers, as HAProxy spells them.
// Empty fields leave Go's defaults (TLS 1.2 to 1.3, Go's cipher suites and curves).
type Params struct {
	MinVer, MaxVer string   // ssl-min-ver / ssl-max-ver: SSLv3, TLSv1.0 .. TLSv1.3
	Options        []string // no-tlsv1x, force-tlsv1x, no-sslv3, no-tls-tickets, prefer-client-ciphers, ...
	Ciphers        string   // OpenSSL cipher list for TLS <= 1.2 (colon separated)
	CipherSuites   string   // TLS 1.3 suites: Go does not let them be chosen
	Curves         string   // colon-separated groups (X25519:P-256:...)
}

var versions = map[string]uint16{
	"TLSv1.0": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

var versionOrder = []string{"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}

// VersionNames lists what ssl-min-ver and ssl-max-ver accept.
const VersionNames = "SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3"

// CheckVersion reports whether v is a version name HAProxy accepts.
func CheckVersion(v string) error {
	if v == "SSLv3" || versions[v] != 0 {
		return nil
	}
	return fmt.Errorf("unknown TLS version %q (expected %s)", v, VersionNames)
}

// ProtocolOptions are the flag options (bind, server, ssl-default-*-options) that
// tlsconf understands; callers use it to route them here.
var ProtocolOptions = map[string]bool{
	"no-sslv3": true, "no-tlsv10": true, "no-tlsv11": true, "no-tlsv12": true, "no-tlsv13": true,
	"force-sslv3": true, "force-tlsv10": true, "force-tlsv11": true, "force-tlsv12": true,
	"force-tlsv13": true, "no-tls-tickets": true, "prefer-client-ciphers": true,
	"strict-sni": true, "no-alpn": true, "no-ca-names": true, "allow-0rtt": true,
	"ssl-reuse": true, "no-ssl-reuse": true, "tls-tickets": true,
}

// apply sets versions, ciphers, curves and tickets on c; warnings name what Go cannot do.
func (p *Params) apply(c *tls.Config, server bool) (warns []string, err error) {
	enabled := map[string]bool{"TLSv1.0": true, "TLSv1.1": true, "TLSv1.2": true, "TLSv1.3": true}
	lo, hi := "", ""
	if p.MinVer != "" {
		if err := CheckVersion(p.MinVer); err != nil {
			return nil, fmt.Errorf("ssl-min-ver: %v", err)
		}
		lo = p.MinVer
		if lo == "SSLv3" {
			warns = append(warns, "ssl-min-ver SSLv3: Go has no SSLv3, TLSv1.0 is the lowest")
			lo = "TLSv1.0"
		}
	}
	if p.MaxVer != "" {
		if err := CheckVersion(p.MaxVer); err != nil {
			return nil, fmt.Errorf("ssl-max-ver: %v", err)
		}
		hi = p.MaxVer
		if hi == "SSLv3" {
			return nil, fmt.Errorf("ssl-max-ver SSLv3: Go has no SSLv3")
		}
	}
	explicitLow := false
	for _, o := range p.Options {
		switch o {
		case "no-sslv3":
		case "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13":
			enabled["TLSv1."+o[len(o)-1:]] = false
			explicitLow = true
		case "force-sslv3":
			return nil, fmt.Errorf("force-sslv3: Go has no SSLv3")
		case "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13":
			v := "TLSv1." + o[len(o)-1:]
			lo, hi = v, v
		case "no-tls-tickets":
			c.SessionTicketsDisabled = true
		case "tls-tickets":
			c.SessionTicketsDisabled = false
		case "prefer-client-ciphers":
			warns = append(warns, "prefer-client-ciphers: ignored (Go chooses the cipher suite itself)")
		case "no-ca-names", "strict-sni", "no-alpn", "ssl-reuse", "no-ssl-reuse":
			// handled by the caller
		case "allow-0rtt":
			warns = append(warns, "allow-0rtt: ignored (Go has no TLS 1.3 early data)")
		default:
			warns = append(warns, fmt.Sprintf("%s: ignored (not a TLS option appl knows)", o))
		}
	}
	// The enabled range: HAProxy disables versions one by one; Go takes a min and a max,
	// so a hole (no-tlsv11 alone) keeps the range from the lowest enabled one upwards.
	var on []string
	for _, v := range versionOrder {
		if enabled[v] && (lo == "" || versions[v] >= versions[lo]) && (hi == "" || versions[v] <= versions[hi]) {
			on = append(on, v)
		}
	}
	if len(on) == 0 {
		return nil, fmt.Errorf("no TLS version left enabled (check ssl-min-ver, ssl-max-ver, no-tlsv1x, force-tlsv1x)")
	}
	for i := 1; i < len(on); i++ {
		if versions[on[i]] != versions[on[i-1]]+1 {
			warns = append(warns, fmt.Sprintf("versions %s: Go needs a contiguous range, %s to %s is used", strings.Join(on, ","), on[0], on[len(on)-1]))
			break
		}
	}
	if lo != "" || explicitLow {
		c.MinVersion = versions[on[0]]
	} else if server {
		c.MinVersion = tls.VersionTLS12 // HAProxy's default since 2.2
	}
	if hi != "" || explicitLow {
		c.MaxVersion = versions[on[len(on)-1]]
	}
	if p.Ciphers != "" {
		ids, ignored := mapCiphers(p.Ciphers)
		if len(ignored) > 0 {
			warns = append(warns, "ciphers: not available in Go, ignored: "+strings.Join(ignored, ":"))
		}
		if len(ids) == 0 {
			warns = append(warns, "ciphers: none of the list maps to a Go cipher suite, Go's defaults are used")
		} else {
			c.CipherSuites = ids
		}
	}
	if p.CipherSuites != "" {
		warns = append(warns, "ciphersuites "+p.CipherSuites+": ignored (Go does not let TLS 1.3 suites be chosen; all of them are safe)")
	}
	if p.Curves != "" {
		ids, ignored := mapCurves(p.Curves)
		if len(ignored) > 0 {
			warns = append(warns, "curves: not available in Go, ignored: "+strings.Join(ignored, ":"))
		}
		if len(ids) > 0 {
			c.CurvePreferences = ids
		}
	}
	return warns, nil
}

// opensslCiphers maps OpenSSL's TLS <= 1.2 names to Go's suites. Go offers only
// ECDHE key exchanges with AEAD or CBC, and plain RSA ones (insecure list).
var opensslCiphers = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
}

// mapCiphers maps an OpenSSL cipher list. Exclusions (!x, -x) and keywords (HIGH,
// !aNULL, @STRENGTH) are not a Go notion: they are skipped silently, since excluding is
// what Go's curated list already does; unknown positive names are reported.
func mapCiphers(list string) (ids []uint16, ignored []string) {
	seen := map[uint16]bool{}
	for _, n := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if n == "" || n[0] == '!' || n[0] == '-' || n[0] == '+' || n[0] == '@' {
			continue
		}
		id, ok := opensslCiphers[n]
		if !ok {
			// Go's own IANA names are accepted too.
			for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
				if cs.Name == n {
					id, ok = cs.ID, true
				}
			}
		}
		if !ok {
			ignored = append(ignored, n)
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, ignored
}

var curveNames = map[string]tls.CurveID{
	"X25519": tls.X25519, "x25519": tls.X25519,
	"P-256": tls.CurveP256, "prime256v1": tls.CurveP256, "secp256r1": tls.CurveP256,
	"P-384": tls.CurveP384, "secp384r1": tls.CurveP384,
	"P-521": tls.CurveP521, "secp521r1": tls.CurveP521,
	"X25519MLKEM768": tls.X25519MLKEM768,
}

func mapCurves(list string) (ids []tls.CurveID, ignored []string) {
	for _, n := range strings.Split(list, ":") {
		if id, ok := curveNames[n]; ok {
			ids = append(ids, id)
		} else if n != "" {
			ignored = append(ignored, n)
		}
	}
	return ids, ignored
}

// sortedKeys is for error messages.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
