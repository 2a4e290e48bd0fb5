package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// BindSpec is what a `bind ... ssl` line asks for.
type BindSpec struct {
	Crts   []string // crt FILE|DIR, in order: the first certificate is the default
	ALPN   []string // alpn h2,http/1.1
	CAFile string   // ca-file: client certificates are verified against it
	Verify string   // verify none|optional|required ("" = none)
	Params
}

// Bind is the TLS side of one bind, built once per configuration generation.
type Bind struct {
	Certs []*Cert
	// Config is what tls.Server takes; its GetCertificate picks the certificate by SNI.
	Config *tls.Config

	exact    map[string][]*Cert
	wildcard map[string][]*Cert // keyed by the part after "*."
	strict   bool
}

// NewBind loads the files of s and builds the server-side configuration. Warnings say
// what of s Go cannot honour; the error names the file and what is wrong with it.
func NewBind(s BindSpec) (*Bind, []string, error) {
	if len(s.Crts) == 0 {
		return nil, nil, errors.New("ssl needs at least one crt (expected crt FILE|DIR)")
	}
	certs, err := LoadCerts(s.Crts)
	if err != nil {
		return nil, nil, err
	}
	b := &Bind{Certs: certs, exact: map[string][]*Cert{}, wildcard: map[string][]*Cert{}}
	for _, c := range certs {
		for _, n := range c.Names {
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				b.wildcard[rest] = append(b.wildcard[rest], c)
			} else {
				b.exact[n] = append(b.exact[n], c)
			}
		}
	}
	cfg := &tls.Config{GetCertificate: b.getCertificate}
	warns, err := s.Params.apply(cfg, true)
	if err != nil {
		return nil, nil, err
	}
	if !cfg.SessionTicketsDisabled {
		cfg.SetSessionTicketKeys(ticketKeys)
	}
	noALPN := false
	for _, o := range s.Options {
		switch o {
		case "strict-sni":
			b.strict = true
		case "no-alpn":
			noALPN = true
		}
	}
	if !noALPN {
		for _, p := range s.ALPN {
			if p == "" {
				return nil, nil, fmt.Errorf("alpn: empty protocol name in %q", strings.Join(s.ALPN, ","))
			}
		}
		cfg.NextProtos = s.ALPN
	}
	switch s.Verify {
	case "", "none":
		if s.CAFile != "" {
			warns = append(warns, "ca-file without verify optional|required: client certificates are not asked for")
		}
	case "optional", "required":
		if s.CAFile == "" {
			return nil, nil, fmt.Errorf("verify %s needs a ca-file to check client certificates against", s.Verify)
		}
		pool, err := LoadCAFile(s.CAFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if s.Verify == "required" {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	default:
		return nil, nil, fmt.Errorf("verify: unknown value %q (expected none, optional or required)", s.Verify)
	}
	if s.CAFile != "" && cfg.ClientCAs == nil {
		if _, err := LoadCAFile(s.CAFile); err != nil {
			return nil, nil, err
		}
	}
	b.Config = cfg
	return b, warns, nil
}

// Select returns the certificate for a server name: exact SAN/CN match, then a
// wildcard one level up, else the default (nil with strict-sni). Among several
// certificates for the name (RSA and ECDSA), the first the client supports wins.
func (b *Bind) Select(hello *tls.ClientHelloInfo) *Cert {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name != "" {
		if c := pick(b.exact[name], hello); c != nil {
			return c
		}
		if _, parent, ok := strings.Cut(name, "."); ok {
			if c := pick(b.wildcard[parent], hello); c != nil {
				return c
			}
		}
	}
	if b.strict {
		return nil
	}
	return b.Certs[0]
}

func pick(cs []*Cert, hello *tls.ClientHelloInfo) *Cert {
	if len(cs) == 0 {
		return nil
	}
	if len(cs) > 1 && hello.CipherSuites != nil {
		for _, c := range cs {
			if hello.SupportsCertificate(&c.TLS) == nil {
				return c
			}
		}
	}
	return cs[0]
}

// ticketKeys encrypt session tickets for every bind of the process, so clients resume
// their sessions across reloads (each reload builds new tls.Configs, whose own keys
// would be new). Like HAProxy without tls-ticket-keys: random at start, not rotated.
var ticketKeys = func() [][32]byte {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic("tlsconf: no randomness for session ticket keys: " + err.Error())
	}
	return [][32]byte{k}
}()

var errNoCert = errors.New("strict-sni: no certificate matches the server name")

func (b *Bind) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := b.Select(hello)
	if c == nil {
		return nil, errNoCert
	}
	return &c.TLS, nil
}
