// Package http1 is appl's own streaming HTTP/1.1 codec, used by the proxy's
// `mode http` to read client requests and server responses and forward them.
// It is not net/http's server: it parses heads in place, without allocating,
// refuses request-smuggling shapes with one distinct error each, and streams
// bodies without ever holding them whole.
//
// # What it owns, what it must not know
//
// It owns HTTP/1.x message syntax and framing: head parsing and
// serialization, header rewriting, body framing rules, the chunked coding,
// keep-alive/upgrade semantics, and the bytes of the responses the proxy
// generates itself (errors, redirects, 401, 100 Continue). It knows nothing
// of configuration, ACLs, backends, sockets beyond io.Reader/io.Writer,
// timeouts or logging: the proxy decides what to do with every error.
//
// # Parsing
//
// Request.Parse and Response.Parse take a byte buffer holding the start of
// a message and return the head length, ErrNeedMore (read more, call again
// with the longer buffer) or a *ParseError. The parsed head refers to slices
// of that buffer: method, target, path, query, version, and up to
// MaxHeaders (101) field lines in a fixed array. Nothing is allocated on the
// common path, so Request and Response values are meant to be pooled with
// the connection and reused. Lookups: Header(name) (case-insensitive),
// HeaderCount, Cookie(name), Len/At for iteration, ContentLength, Chunked,
// ExpectContinue, HasConnectionToken.
//
// Reader wraps a connection and a caller-owned window (tune.bufsize bytes):
// ReadRequest/ReadResponse fill it until a head parses, leave pipelined
// bytes in the window for the next call, and CopyBody streams the body that
// follows. A head read through a Reader is valid until the next read from
// that Reader: forward (AppendTo) the head before copying its body.
//
// # Strictness (decisions a user sees)
//
// A proxy must answer every *ParseError from a request with 400 (502 for a
// response) and close; the message is never forwarded. Each error value
// (ErrCLAndTE, ErrDupContentLength, ErrBareLF, ...) has a Name for the log
// line. The rules:
//   - Lines end in CRLF. A bare LF is refused anywhere in a head or in chunk
//     framing (ErrBareLF); HAProxy tolerates bare LF in heads, appl does not.
//     Empty lines before a request line are skipped (RFC 9112 2.2).
//   - Obsolete line folding, whitespace before the colon, bytes that are not
//     token characters in names or methods, and NUL/CR/LF or any other
//     control character but HTAB in values are refused. obs-text (0x80-0xff)
//     is allowed in values, not in the request target.
//   - Only HTTP/1.0 and HTTP/1.1 are accepted. The request target must not
//     hold spaces, control characters, '#' or non-ASCII bytes; CONNECT takes
//     authority-form only, "*" is for OPTIONS only.
//   - Content-Length must be 1*DIGIT fitting 63 bits. Identical duplicates
//     (separate fields or a "5, 5" list) are normalised to one field;
//     differing ones are refused.
//   - Content-Length with Transfer-Encoding is refused (HAProxy would drop
//     Content-Length; appl refuses). In requests, Transfer-Encoding must be
//     exactly chunked (case and empty list elements tolerated, and rewritten
//     to a single "Transfer-Encoding: chunked"); in responses any token codings
//     may precede a final chunked. Transfer-Encoding in HTTP/1.0 is refused.
//   - An HTTP/1.1 request needs exactly one Host, made of host characters.
//     When the target carries an authority (absolute-form, CONNECT), Host
//     must equal it, ignoring case (no default-port folding); userinfo in
//     the target is refused.
//   - A head larger than Limits.MaxHead (default 16384, tune.bufsize), or
//     with more than Limits.MaxHeaders fields (default 101), is refused.
//     (HAProxy's own limit is tune.bufsize minus tune.maxrewrite, 15360 by
//     default; pass that as MaxHead for the same behaviour.)
//   - Chunk sizes are hexadecimal digits only (no sign, no "0x", no trailing
//     space unless a ';' extension follows), below 2^63; extensions must
//     follow the RFC grammar; chunk data must be followed by CRLF; trailer
//     fields follow the header rules and are bounded by MaxTrailer.
//
// SmugglingCases lists these shapes with the expected outcome; the proxy's
// end-to-end tests replay it against a real backend.
//
// # Rewriting and serialization
//
// Add, Set, Del, DelAt, SetValueAt (field lines; http-request
// add/set/del/replace-header build on them), Request.SetPath, SetQuery,
// SetMethod, Response.SetStatus change the head in place; new bytes go to a
// per-head arena that is reused from message to message, so a steady set of
// rewrites allocates nothing either. Every rewrite validates its input (a
// token name, no control characters in values, no space in paths) and
// returns false instead of letting a rule split the message. AppendTo appends the canonical head
// ("Name: value", CRLF, single spaces) to a caller buffer without re-parsing.
// Framing (below) reflects the message as received: rewriting
// Content-Length or Transfer-Encoding is the caller's responsibility.
//
// # Bodies and connections
//
// Request.Framing and Response.Framing(req) say how the body is delimited:
// BodyNone (HEAD responses, 1xx, 204, 304, no length), BodyLength,
// BodyChunked, BodyUntilClose (responses only) or BodyTunnel (101, 2xx to
// CONNECT). Reader.CopyBody streams Content-Length and until-close bodies as
// they are, and chunked bodies through ChunkedDecoder, an I/O-free state
// machine that validates sizes, delimiters, extensions and trailers and
// re-encodes canonically (extensions dropped, trailers kept).
// Request.KeepAlive, Response.KeepAlive(req), Request.Upgrade and
// IsWebSocket give the connection semantics; ExpectContinue with the
// Continue constant handles 100-continue.
//
// # Generated responses
//
// AppendError (HAProxy's built-in pages: 400, 403, 404, 408, 429, 500,
// 502, 503, 504, ...), AppendAuthRequired and AppendRedirect append complete
// responses to a buffer.
package http1
