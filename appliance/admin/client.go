package admin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// CSRFHeader must be present (any non-empty value) on every write request. A browser
// cannot add a custom header to a cross-site form post, and the API answers no CORS
// preflight, so a page elsewhere cannot make the operator's browser change state.
const CSRFHeader = "X-Appl-Request"

// Client talks to one node's admin API: applctl over the unix socket, a node to its
// peer over HTTPS.
type Client struct {
	base  string
	hc    *http.Client
	token string
	// Where is the socket path or address, for error messages.
	Where string
}

// NewUnixClient reaches the API on a unix socket.
func NewUnixClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{base: "http://admin", hc: &http.Client{Transport: tr}, Where: path}
}

// NewHTTPSClient reaches the API at addr (HOST:PORT) with the bearer token. caFile, when
// set, is the PEM certificate (or CA) the server's certificate must chain to; without it
// the server is not verified and only the token protects the exchange (see docs/admin.md).
func NewHTTPSClient(addr, token, caFile string) (*Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("admin ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("admin ca %s: no PEM certificate found", caFile)
		}
		tc.RootCAs = pool
		// Self-signed node certificates name an address that may not match how the
		// peer is reached; the chain to the pinned certificate is what is checked.
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			c, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = c.Verify(x509.VerifyOptions{Roots: pool})
			return err
		}
	} else {
		tc.InsecureSkipVerify = true
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}
	return &Client{base: "https://" + addr, hc: &http.Client{Transport: tr}, token: token, Where: addr}, nil
}

// APIError is an error answered by the API (as opposed to not reaching it).
type APIError struct {
	Status int
	Msg    string
	Errors []string
}

func (e *APIError) Error() string {
	if len(e.Errors) > 0 {
		return e.Msg + ":\n  " + strings.Join(e.Errors, "\n  ")
	}
	return e.Msg
}

type errorBody struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors,omitempty"`
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		req.Header.Set(CSRFHeader, "1")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// The URL is ours and says nothing useful; keep the cause (socket errors).
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var eb errorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			ae := &APIError{Status: resp.StatusCode, Msg: eb.Error, Errors: eb.Errors}
			if out != nil {
				_ = json.Unmarshal(b, out) // partial results (failover timing) ride along
			}
			return ae
		}
		return &APIError{Status: resp.StatusCode, Msg: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// Status returns the node's status and, unless local, its peer's.
func (c *Client) Status(ctx context.Context, local bool) (ClusterStatus, error) {
	var st ClusterStatus
	p := "/v1/status"
	if local {
		p += "?local=1"
	}
	err := c.do(ctx, http.MethodGet, p, nil, &st)
	return st, err
}

// Failover asks the node to hand mastership over (or take it, with To naming it).
func (c *Client) Failover(ctx context.Context, r FailoverRequest) (FailoverResult, error) {
	var res FailoverResult
	b, _ := json.Marshal(r)
	err := c.do(ctx, http.MethodPost, "/v1/failover", bytes.NewReader(b), &res)
	return res, err
}

// Demote lowers (on) or restores the node's VRRP instances without waiting.
func (c *Client) Demote(ctx context.Context, on bool) error {
	b, _ := json.Marshal(map[string]bool{"on": on})
	return c.do(ctx, http.MethodPost, "/v1/demote", bytes.NewReader(b), nil)
}

// Reload makes the node re-read its configuration file.
func (c *Client) Reload(ctx context.Context) (ReloadResult, error) {
	var res ReloadResult
	err := c.do(ctx, http.MethodPost, "/v1/reload", nil, &res)
	return res, err
}

// CheckConfig validates configuration bytes on the node (nil: its own file re-read).
func (c *Client) CheckConfig(ctx context.Context, data []byte) (ReloadResult, error) {
	var res ReloadResult
	err := c.do(ctx, http.MethodPost, "/v1/config/check", bytes.NewReader(data), &res)
	return res, err
}

// SetServerState sets a server's admin state: ready, drain or maint.
func (c *Client) SetServerState(ctx context.Context, backend, server, state string) error {
	b, _ := json.Marshal(map[string]string{"state": state})
	return c.do(ctx, http.MethodPost, "/v1/servers/"+url.PathEscape(backend)+"/"+url.PathEscape(server)+"/state", bytes.NewReader(b), nil)
}

// Runtime runs one runtime API command line on the node at admin level and returns
// its answer as the stats socket would print it.
func (c *Client) Runtime(ctx context.Context, command string) (string, error) {
	b, _ := json.Marshal(map[string]string{"command": command})
	var out struct {
		Output string `json:"output"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/runtime", bytes.NewReader(b), &out)
	return out.Output, err
}

// Events calls fn for each event until ctx ends or the stream breaks.
func (c *Client) Events(ctx context.Context, fn func(Event)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events", nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &APIError{Status: resp.StatusCode, Msg: "events: " + resp.Status}
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev Event
		if json.Unmarshal([]byte(data), &ev) == nil {
			fn(ev)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
