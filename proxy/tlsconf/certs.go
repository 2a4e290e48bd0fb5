package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Cert is one loaded certificate with the names SNI matches it by.
type Cert struct {
	File  string // the crt file it came from
	Names []string
	TLS   tls.Certificate
}

// LoadCertFile loads a PEM holding the certificate chain and, as HAProxy writes it, the
// private key; a key missing from the PEM is looked for in FILE.key, then in the same
// name with its .pem/.crt extension replaced by .key.
func LoadCertFile(file string) (*Cert, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read certificate: %v", unwrapPath(err))
	}
	var certPEM, keyPEM []byte
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			certPEM = append(certPEM, pem.EncodeToMemory(b)...)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if keyPEM == nil {
				keyPEM = pem.EncodeToMemory(b)
			}
		}
	}
	if certPEM == nil {
		return nil, fmt.Errorf("%s: no PEM certificate in the file", file)
	}
	keyFrom := file
	if keyPEM == nil {
		cands := []string{file + ".key"}
		if ext := filepath.Ext(file); ext == ".pem" || ext == ".crt" {
			cands = append(cands, strings.TrimSuffix(file, ext)+".key")
		}
		for _, k := range cands {
			kd, err := os.ReadFile(k)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("cannot read private key: %v", unwrapPath(err))
			}
			keyPEM, keyFrom = kd, k
			break
		}
		if keyPEM == nil {
			return nil, fmt.Errorf("%s: no private key in the file, nor in %s", file, strings.Join(cands, " or "))
		}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if keyFrom != file {
			return nil, fmt.Errorf("%s with key %s: %v", file, keyFrom, err)
		}
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		c.Leaf = leaf
	}
	names := leaf.DNSNames
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = []string{leaf.Subject.CommonName}
	}
	for i, n := range names {
		names[i] = strings.ToLower(n)
	}
	return &Cert{File: file, Names: names, TLS: c}, nil
}

// skippedInDir are the companion files HAProxy does not take for certificates when it
// loads a directory.
var skippedInDir = []string{".key", ".ocsp", ".issuer", ".sctl", ".dh"}

// LoadCerts loads each crt argument: a file, or a directory whose certificate files
// are loaded in name order (hidden files and key/ocsp/issuer/sctl companions skipped).
func LoadCerts(paths []string) ([]*Cert, error) {
	var out []*Cert
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("crt: %v", unwrapPath(err))
		}
		if !st.IsDir() {
			c, err := LoadCertFile(p)
			if err != nil {
				return nil, fmt.Errorf("crt: %v", err)
			}
			out = append(out, c)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("crt: %v", unwrapPath(err))
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		n := 0
	next:
		for _, e := range ents {
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") {
				continue
			}
			for _, s := range skippedInDir {
				if strings.HasSuffix(name, s) {
					continue next
				}
			}
			c, err := LoadCertFile(filepath.Join(p, name))
			if err != nil {
				return nil, fmt.Errorf("crt %s: %v", p, err)
			}
			out = append(out, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("crt %s: no certificate file in the directory", p)
		}
	}
	return out, nil
}

// LoadCAFile reads a PEM bundle of CA certificates; "@system-ca" is the system's store,
// as in HAProxy.
func LoadCAFile(file string) (*x509.CertPool, error) {
	if file == "@system-ca" {
		p, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("ca-file @system-ca: %v", err)
		}
		return p, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ca-file: %v", unwrapPath(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bytes.TrimSpace(data)) {
		return nil, fmt.Errorf("ca-file %s: no PEM certificate in the file", file)
	}
	return pool, nil
}

// unwrapPath keeps "open /x: no such file or directory" short and without Go's op names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}
