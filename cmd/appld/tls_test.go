package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
	"appl/proxy/tlsconf/tlstest"
)

// `appld -c` names the file and line of a bind whose certificate is unusable.
func TestCheckBadCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "CA")
	c, _ := ca.Issue(t, "a", "a.example.com")
	_, k := ca.Issue(t, "b", "b.example.com")
	os.WriteFile(filepath.Join(dir, "mismatch.pem"), append(c, k...), 0o600)
	cfg := filepath.Join(dir, "appl.cfg")
	os.WriteFile(cfg, []byte("frontend fe\n mode tcp\n bind 127.0.0.1:1 ssl crt missing.pem\n bind 127.0.0.1:2 ssl crt mismatch.pem\n default_backend be\nbackend be\n server s 127.0.0.1:3 ssl\n"), 0o600)
	code, _, errOut := runCLI("-c", "-f", cfg)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, errOut)
	}
	for _, want := range []string{
		cfg + ":3: bind: ssl: crt: " + filepath.Join(dir, "missing.pem") + ": no such file or directory",
		cfg + ":4: bind: ssl: crt: " + filepath.Join(dir, "mismatch.pem") + ": tls: private key does not match public key",
		cfg + ":7: server: backend \"be\": ssl: verify required needs a ca-file",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in:\n%s", want, errOut)
		}
	}
}

// curl against a real appld: TLS terminated on a tcp frontend, the right certificate
// per SNI, verified with --cacert; SIGHUP swaps the certificate for new handshakes.
func TestTLSThroughAppldWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "appl test CA")
	caFile := ca.WriteCA(t, dir, "ca.pem")
	ca.WriteBundle(t, dir, "site.pem", "site-one", "site.example.com")
	ca.WriteBundle(t, dir, "other.pem", "other", "other.example.com")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s %s\n", r.Host, r.URL.Path)
	}))
	t.Cleanup(web.Close)
	front := freePort(t)
	_, port, _ := net.SplitHostPort(front)
	path := filepath.Join(dir, "appl.cfg")
	cfg := fmt.Sprintf(`defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend tls
  bind %s ssl crt site.pem crt other.pem alpn http/1.1
  default_backend web
backend web
  server w %s
`, front, strings.TrimPrefix(web.URL, "http://"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, out := startLocalAppld(t, path)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cn := func(name string) string {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp4", front, &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			return "error: " + err.Error()
		}
		c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving TLS", func() bool { return cn("site.example.com") == "site-one" })

	for _, name := range []string{"site.example.com", "other.example.com"} {
		res, err := exec.Command(curl, "-sS", "--max-time", "5", "--resolve", name+":"+port+":127.0.0.1",
			"--cacert", caFile, "https://"+name+":"+port+"/x").CombinedOutput()
		if err != nil || string(res) != "hello "+name+":"+port+" /x\n" {
			t.Errorf("curl %s: %q %v\n%s", name, res, err, out.String())
		}
	}
	// -k without SNI (an IP address) gets the default certificate.
	if res, err := exec.Command(curl, "-sSk", "--max-time", "5", "https://"+front+"/ip").CombinedOutput(); err != nil || !strings.HasPrefix(string(res), "hello ") {
		t.Errorf("curl -k: %q %v", res, err)
	}
	// Without the CA, curl refuses the certificate.
	if res, err := exec.Command(curl, "-sS", "--max-time", "5", "--resolve", "site.example.com:"+port+":127.0.0.1", "https://site.example.com:"+port+"/").CombinedOutput(); err == nil {
		t.Errorf("curl without --cacert succeeded: %q", res)
	}

	ca.WriteBundle(t, dir, "site.pem", "site-two", "site.example.com")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "new certificate after SIGHUP", func() bool { return cn("site.example.com") == "site-two" })
	if res, err := exec.Command(curl, "-sS", "--max-time", "5", "--resolve", "site.example.com:"+port+":127.0.0.1",
		"--cacert", caFile, "https://site.example.com:"+port+"/after").CombinedOutput(); err != nil || !strings.Contains(string(res), "/after") {
		t.Errorf("curl after reload: %q %v", res, err)
	}
}
