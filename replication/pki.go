package replication

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files of the cluster material, under DataDir/cluster. Every member holds
// the CA key and the cluster secret: any member can admit a node that shows
// the join token, so losing one box never locks the cluster.
const (
	clusterDirName = "cluster"
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	secretFile     = "secret"
	nodeCertFile   = "node.crt"
	nodeKeyFile    = "node.key"
	bootstrapFile  = "bootstrap" // left by InitCluster: the first Start makes a one-voter cluster
	tokenPrefix    = "appl-join-v1"
)

// ErrBadToken is returned to a node whose join token does not match the
// cluster, and by ParseToken for a token that is not one.
var ErrBadToken = errors.New("replication: invalid join token")

// material is what a member holds: the CA (cert and key) and the secret
// from which the join key and the gossip key derive.
type material struct {
	caCert    *x509.Certificate
	caCertPEM []byte
	caKeyPEM  []byte
	caKey     *ecdsa.PrivateKey
	secret    []byte
}

func clusterDir(dataDir string) string { return filepath.Join(dataDir, clusterDirName) }

// InitCluster creates a new cluster CA and secret under dataDir/cluster and
// returns the join token (what `applctl cluster init` prints). It refuses
// to overwrite an existing cluster.
func InitCluster(dataDir string) (string, error) {
	dir := clusterDir(dataDir)
	if _, err := os.Stat(filepath.Join(dir, caCertFile)); err == nil {
		return "", fmt.Errorf("replication: %s already holds a cluster CA; remove it to start a new cluster", dir)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "appl cluster CA", Organization: []string{"appl"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	m := &material{
		caCertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		caKeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		secret:    secret,
	}
	if err := m.write(dataDir); err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(clusterDir(dataDir), bootstrapFile), []byte("pending\n"), 0o600); err != nil {
		return "", err
	}
	m, err = loadMaterial(dataDir)
	if err != nil {
		return "", err
	}
	return m.token(), nil
}

// ReadToken returns the join token of the cluster whose material is under
// dataDir (any member can print it).
func ReadToken(dataDir string) (string, error) {
	m, err := loadMaterial(dataDir)
	if err != nil {
		return "", err
	}
	return m.token(), nil
}

func (m *material) write(dataDir string) error {
	dir := clusterDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{caCertFile, m.caCertPEM},
		{caKeyFile, m.caKeyPEM},
		{secretFile, []byte(hex.EncodeToString(m.secret) + "\n")},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func loadMaterial(dataDir string) (*material, error) {
	dir := clusterDir(dataDir)
	certPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, fmt.Errorf("replication: no cluster material in %s (run cluster init or join): %w", dir, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, err
	}
	secHex, err := os.ReadFile(filepath.Join(dir, secretFile))
	if err != nil {
		return nil, err
	}
	return parseMaterial(certPEM, keyPEM, strings.TrimSpace(string(secHex)))
}

func parseMaterial(certPEM, keyPEM []byte, secretHex string) (*material, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("replication: CA certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("replication: CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("replication: CA certificate is not a CA")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("replication: CA key is not PEM")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("replication: CA key: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("replication: CA key does not match CA certificate")
	}
	secret, err := hex.DecodeString(secretHex)
	if err != nil || len(secret) < 16 {
		return nil, errors.New("replication: cluster secret is malformed")
	}
	return &material{caCert: cert, caCertPEM: certPEM, caKeyPEM: keyPEM, caKey: key, secret: secret}, nil
}

// fingerprint is the SHA-256 of the CA certificate: a joining node pins it.
func (m *material) fingerprint() []byte {
	s := sha256.Sum256(m.caCert.Raw)
	return s[:]
}

func (m *material) derive(label string, extra []byte) []byte {
	h := hmac.New(sha256.New, m.secret)
	h.Write([]byte(label))
	h.Write(extra)
	return h.Sum(nil)
}

// joinKey is the HMAC over the CA fingerprint that a token carries.
func (m *material) joinKey() []byte { return m.derive("appl join token v1", m.fingerprint()) }

// gossipKey is memberlist's AES-256 key.
func (m *material) gossipKey() []byte { return m.derive("appl memberlist v1", nil)[:32] }

func (m *material) token() string {
	return tokenPrefix + "." + hex.EncodeToString(m.fingerprint()) + "." + hex.EncodeToString(m.joinKey())
}

// joinToken is a parsed token: the CA fingerprint to pin and the key to show.
type joinToken struct {
	fingerprint []byte
	key         []byte
}

// ParseToken checks the shape of a join token (not its validity, which only
// a member can check).
func ParseToken(s string) error {
	_, err := parseToken(s)
	return err
}

func parseToken(s string) (joinToken, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || parts[0] != tokenPrefix {
		return joinToken{}, ErrBadToken
	}
	fp, err1 := hex.DecodeString(parts[1])
	key, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(fp) != sha256.Size || len(key) != sha256.Size {
		return joinToken{}, ErrBadToken
	}
	return joinToken{fingerprint: fp, key: key}, nil
}

// nodeCert returns this node's certificate, issuing one from the CA when
// none exists or it names another node.
func (m *material) nodeCert(dataDir, nodeID string) (tls.Certificate, error) {
	dir := clusterDir(dataDir)
	cp, kp := filepath.Join(dir, nodeCertFile), filepath.Join(dir, nodeKeyFile)
	if c, err := tls.LoadX509KeyPair(cp, kp); err == nil {
		if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil &&
			leaf.Subject.CommonName == nodeID && leaf.CheckSignatureFrom(m.caCert) == nil &&
			time.Now().Before(leaf.NotAfter) {
			c.Certificate = append(c.Certificate, m.caCert.Raw)
			return c, nil
		}
	}
	certPEM, keyPEM, err := m.issue(nodeID)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(kp, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(cp, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	c.Certificate = append(c.Certificate, m.caCert.Raw)
	return c, nil
}

// issue makes a node certificate good for both TLS client and server.
// Peers are authenticated by the CA chain, not by address, so addresses
// may change without reissuing.
func (m *material) issue(nodeID string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID, Organization: []string{"appl"}},
		DNSNames:     []string{"appl-node"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.caCert, &key.PublicKey, m.caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// tlsConfigs builds the listener's and the dialer's TLS configurations.
// The server asks for a client certificate but accepts a connection
// without one, because a joining node has none yet; every request other
// than join checks that the peer's chain was verified.
func (m *material) tlsConfigs(cert tls.Certificate) (server, client *tls.Config) {
	pool := x509.NewCertPool()
	pool.AddCert(m.caCert)
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}
	client = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ServerName:   "appl-node",
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS13,
	}
	return server, client
}

// pinnedClientConfig is what a joining node uses: no certificate of its
// own, and the server must chain to the CA whose fingerprint the token
// carries.
func pinnedClientConfig(fp []byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by the pinning check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) < 2 {
				return errors.New("replication: peer sent no CA certificate")
			}
			ca, err := x509.ParseCertificate(raw[len(raw)-1])
			if err != nil {
				return err
			}
			sum := sha256.Sum256(ca.Raw)
			if !hmac.Equal(sum[:], fp) {
				return errors.New("replication: peer's CA does not match the token's fingerprint")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			return err
		},
	}
}
