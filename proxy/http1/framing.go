package http1

// BodyKind says how a message body is delimited on the wire.
type BodyKind uint8

const (
	// BodyNone: no body (HEAD responses, 1xx, 204, 304, requests without
	// Content-Length or Transfer-Encoding, Content-Length: 0).
	BodyNone BodyKind = iota
	// BodyLength: exactly Framing.Length bytes follow the head.
	BodyLength
	// BodyChunked: chunked transfer coding, with optional trailers.
	BodyChunked
	// BodyUntilClose: the body runs until the server closes (responses only).
	BodyUntilClose
	// BodyTunnel: after this head the connection is a byte tunnel in both
	// directions (101 Switching Protocols, 2xx to CONNECT).
	BodyTunnel
)

func (k BodyKind) String() string {
	switch k {
	case BodyNone:
		return "none"
	case BodyLength:
		return "content-length"
	case BodyChunked:
		return "chunked"
	case BodyUntilClose:
		return "until-close"
	case BodyTunnel:
		return "tunnel"
	}
	return "unknown"
}

// Framing is the body delimitation of one message.
type Framing struct {
	Kind   BodyKind
	Length int64 // for BodyLength
}

// Framing returns how the request body is delimited, as received (later
// rewrites of Content-Length or Transfer-Encoding do not change it). A
// CONNECT request has no body: the tunnel starts with a 2xx response.
func (r *Request) Framing() Framing {
	switch {
	case r.form == formAuthority:
		return Framing{Kind: BodyNone}
	case r.chunked:
		return Framing{Kind: BodyChunked}
	case r.contentLength > 0:
		return Framing{Kind: BodyLength, Length: r.contentLength}
	}
	return Framing{Kind: BodyNone}
}

// Framing returns how the response body is delimited (RFC 9112 6.3). req is
// the request it answers; nil stands for a GET.
func (r *Response) Framing(req *Request) Framing {
	s := r.status
	switch {
	case s == 101:
		return Framing{Kind: BodyTunnel}
	case req != nil && req.form == formAuthority && s >= 200 && s < 300:
		return Framing{Kind: BodyTunnel}
	case req != nil && req.IsMethod("HEAD"):
		return Framing{Kind: BodyNone}
	case s < 200 || s == 204 || s == 304:
		return Framing{Kind: BodyNone}
	case r.chunked:
		return Framing{Kind: BodyChunked}
	case r.contentLength == 0:
		return Framing{Kind: BodyNone}
	case r.contentLength > 0:
		return Framing{Kind: BodyLength, Length: r.contentLength}
	}
	return Framing{Kind: BodyUntilClose}
}

// KeepAlive reports whether the client wants the connection kept open after
// this request: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
// "Connection: keep-alive".
func (r *Request) KeepAlive() bool { return keepAlive(r.version, r.conn) }

// KeepAlive reports whether the server connection can carry another request
// after this response: the response must be self-delimited and neither its
// version nor its Connection field may ask for a close.
func (r *Response) KeepAlive(req *Request) bool {
	switch r.Framing(req).Kind {
	case BodyUntilClose, BodyTunnel:
		return false
	}
	return keepAlive(r.version, r.conn)
}

func keepAlive(v Version, conn uint8) bool {
	if conn&connClose != 0 {
		return false
	}
	if v == HTTP10 {
		return conn&connKeepAlive != 0
	}
	return true
}

// Upgrade returns the Upgrade field value when the request asks for a
// protocol switch (HTTP/1.1, "Connection: upgrade" and an Upgrade field).
func (r *Request) Upgrade() ([]byte, bool) {
	if r.version != HTTP11 || r.conn&connUpgrade == 0 {
		return nil, false
	}
	return r.Header("upgrade")
}

// IsWebSocket reports an upgrade request whose Upgrade field lists websocket.
func (r *Request) IsWebSocket() bool {
	v, ok := r.Upgrade()
	if !ok {
		return false
	}
	for len(v) > 0 {
		var e []byte
		e, v = nextListElem(v)
		if equalFold(e, "websocket") {
			return true
		}
	}
	return false
}
