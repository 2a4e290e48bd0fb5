// Package tlsconf turns the TLS options of HAProxy-style `bind ... ssl` and
// `server ... ssl` lines into crypto/tls configurations: it loads and checks certificate
// and key files (one PEM with chain and key, a separate FILE.key next to it, or every
// certificate of a directory), chooses the certificate by SNI (SAN DNS names including
// wildcards, else the CN; the first crt is the default), negotiates ALPN, maps OpenSSL
// names (protocol versions, cipher lists, curves, no-tlsvXX style options) to what Go
// offers and says what it had to ignore, and verifies servers the way HAProxy does
// (chain against ca-file, host name against verifyhost or the SNI sent).
//
// Its only I/O is reading files. It knows neither the config file syntax (proxy/config
// fills the specs and positions the errors) nor sockets (the data plane wraps its
// connections with tls.Server / tls.Client using the configurations built here). A
// reload reads the files again: a new *Bind or *Client per configuration generation,
// while connections already established keep the one they started with.
package tlsconf
