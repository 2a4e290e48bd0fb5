package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ClientSpec is what a `server ... ssl` line asks for.
type ClientSpec struct {
	Verify     string // none|required; "" is required, as HAProxy's ssl-server-verify default
	CAFile     string // ca-file FILE or @system-ca
	Crt        string // client certificate presented to the server
	ALPN       []string
	VerifyHost string // verifyhost NAME: the name checked instead of the SNI
	NoReuse    bool   // no-ssl-reuse: no session resumption
	Params
}

// Client is the TLS side of one server, built once per configuration generation.
type Client struct {
	base       *tls.Config
	verify     bool
	verifyHost string
}

// NewClient loads the files of s and builds the client-side configuration.
func NewClient(s ClientSpec) (*Client, []string, error) {
	c := &Client{verifyHost: s.VerifyHost}
	cfg := &tls.Config{
		// Verification is ours (VerifyConnection): HAProxy checks the chain always and the
		// host name only when there is one to check (verifyhost, else the SNI sent).
		InsecureSkipVerify: true,
		NextProtos:         s.ALPN,
	}
	warns, err := s.Params.apply(cfg, false)
	if err != nil {
		return nil, nil, err
	}
	if !s.NoReuse {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	switch s.Verify {
	case "", "required":
		if s.CAFile == "" {
			return nil, nil, errors.New("verify required needs a ca-file (set ca-file FILE or @system-ca, or `verify none` on the server, or `ssl-server-verify none` in global)")
		}
		pool, err := LoadCAFile(s.CAFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.RootCAs = pool
		c.verify = true
		cfg.VerifyConnection = c.verifyConn
	case "none":
		if s.CAFile != "" {
			if _, err := LoadCAFile(s.CAFile); err != nil {
				return nil, nil, err
			}
		}
	default:
		return nil, nil, fmt.Errorf("verify: unknown value %q (expected none or required)", s.Verify)
	}
	if s.Crt != "" {
		cert, err := LoadCertFile(s.Crt)
		if err != nil {
			return nil, nil, fmt.Errorf("crt: %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert.TLS}
	}
	c.base = cfg
	return c, warns, nil
}

// Config returns the configuration for one connection sending sni ("" sends none).
// The session cache is shared, so resumption works across connections.
func (c *Client) Config(sni string) *tls.Config {
	if sni == "" {
		return c.base
	}
	cfg := c.base.Clone()
	cfg.ServerName = sni
	return cfg
}

// Verifies reports whether server certificates are checked (verify required).
func (c *Client) Verifies() bool { return c.verify }

func (c *Client) verifyConn(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         c.base.RootCAs,
		Intermediates: x509.NewCertPool(),
		DNSName:       c.verifyHost,
	}
	if opts.DNSName == "" {
		opts.DNSName = cs.ServerName
	}
	for _, ic := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}
