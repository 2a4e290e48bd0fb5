// Package h2front serves HTTP/2 to clients (RFC 9113) in front of appl's HTTP/1.1
// engine (proxy/httpmode): one job, the HTTP/2 connection towards a client.
//
// # How
//
// Each client stream becomes an HTTP/1.1 request of the unchanged engine: the
// gateway validates the decoded header list (pseudo-headers, connection-specific
// fields, lower-case names, values, :authority against host, content-length) and
// serializes it as an HTTP/1.1 head (request.go, BuildRequest); DATA frames follow as
// the body (as is under a content-length, else re-framed chunked). The engine serves
// it on a lane (lane.go): a virtual net.Conn the engine runs its keep-alive loop on,
// exactly as on a client socket, so every rule, ACL, use_backend, balance, cookie,
// forwardfor, stick counter, log line, errorfile and timeout of HTTP/1 applies per
// stream with no second implementation. The engine's HTTP/1.1 response is parsed as
// it writes it (proxy/http1) into HEADERS and DATA frames (chunked bodies decoded). A lane
// takes a new stream only while the engine waits for its next request, so streams
// never queue behind one another; up to 2×SETTINGS_MAX_CONCURRENT_STREAMS lanes run
// per connection, idle ones are reused (they keep their server connection, as an
// HTTP/1.1 keep-alive client does), and they end on timeout http-keep-alive.
//
// Flow control both ways: a request body is buffered only up to the stream window
// the client was given (65535, SETTINGS_INITIAL_WINDOW_SIZE unchanged) and the
// connection window (1 MiB); the window is given back as the engine reads. A
// response body leaves as the client's windows allow: the engine's write blocks
// meanwhile, so a client that stops reading stops the server (and after timeout
// client, the stream is reset with CANCEL).
//
// Errors: a malformed request is a stream error (RST_STREAM PROTOCOL_ERROR); a
// malformed frame, a flow-control violation or a bad HPACK block a connection error
// (GOAWAY, close). Both are counted (Result.ProtocolErrors, Options.OnProtocolError).
// GOAWAY (NO_ERROR) is sent on the data plane's drain signal (soft stop), after a
// reload (Options.Stale: the stream that found out is served, the client reconnects
// for the next one), and when the connection was idle for timeout http-keep-alive.
//
// # What it must not know
//
// Listeners, TLS, backends, servers, rules, logs and counters: it gets a net.Conn
// whose ALPN said h2, the engine (Engine, *httpmode.Frontend), the engine's Env and
// the connection's acl.Txn from package proxy (proxy/tls.go, serveEngine). It never
// imports package proxy.
//
// # Not served
//
// Server push, CONNECT and extended CONNECT (WebSocket over HTTP/2: answered 501),
// response trailers (dropped: HTTP/1.1 servers rarely send them), priorities
// (ignored: streams are served as they come), h2c upgrade from HTTP/1.1.
package h2front
