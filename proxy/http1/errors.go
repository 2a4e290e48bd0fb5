package http1

import "errors"

// ErrNeedMore is returned by the parsers when the buffer does not yet hold a
// complete head (or chunk-size line, or trailer line). It is not a protocol
// error: read more bytes into the same buffer and call again.
var ErrNeedMore = errors.New("http1: need more data")

// ParseError is a protocol violation. Each kind of violation is a distinct
// package-level *ParseError value, so callers compare with errors.Is (or ==)
// and log Name; none of them allocates when returned.
type ParseError struct {
	// Name is a short stable identifier, fit for log lines and counters
	// (for example "cl-and-te").
	Name string
	// Msg explains the refusal in words.
	Msg string
}

func (e *ParseError) Error() string { return "http1: " + e.Name + ": " + e.Msg }

func perr(name, msg string) *ParseError { return &ParseError{Name: name, Msg: msg} }

// Head-level errors. A proxy answers every one of them with 400 (requests) or
// 502 (responses) and closes the connection; the message is never forwarded.
var (
	ErrHeadTooLarge     = perr("head-too-large", "head too large")
	ErrTooManyHeaders   = perr("too-many-headers", "too many header fields")
	ErrBareLF           = perr("bare-lf", "line ends in LF without CR")
	ErrBareCR           = perr("bare-cr", "CR not followed by LF")
	ErrObsFold          = perr("obs-fold", "obsolete line folding (line starts with space or tab)")
	ErrSpaceBeforeColon = perr("space-before-colon", "space or tab between field name and colon")
	ErrBadHeaderName    = perr("bad-header-name", "invalid character in field name or missing colon")
	ErrBadHeaderValue   = perr("bad-header-value", "NUL, CR, LF or control character in field value")
	ErrBadMethod        = perr("bad-method", "invalid method token")
	ErrBadTarget        = perr("bad-target", "invalid request target")
	ErrBadRequestLine   = perr("bad-request-line", "malformed request line")
	ErrBadVersion       = perr("bad-version", "invalid or unsupported HTTP version")
	ErrBadStatusLine    = perr("bad-status-line", "malformed status line")

	ErrCLAndTE             = perr("cl-and-te", "both Content-Length and Transfer-Encoding")
	ErrDupContentLength    = perr("dup-content-length", "differing Content-Length values")
	ErrBadContentLength    = perr("bad-content-length", "Content-Length is not a non-negative decimal that fits 63 bits")
	ErrBadTransferEncoding = perr("bad-transfer-encoding", "Transfer-Encoding is not exactly chunked as final coding")
	ErrTEInHTTP10          = perr("te-in-http10", "Transfer-Encoding in an HTTP/1.0 request")
	ErrMissingHost         = perr("missing-host", "HTTP/1.1 request without Host")
	ErrDupHost             = perr("dup-host", "more than one Host field")
	ErrBadHost             = perr("bad-host", "invalid character in Host")
	ErrHostMismatch        = perr("host-mismatch", "Host differs from the authority of the request target")
)

// Body-level errors, from the chunked decoder and the body copiers.
var (
	ErrBadChunkSize      = perr("bad-chunk-size", "chunk size is not hexadecimal")
	ErrChunkSizeOverflow = perr("chunk-size-overflow", "chunk size overflows")
	ErrBadChunkExt       = perr("bad-chunk-ext", "invalid chunk extension")
	ErrChunkMissingCRLF  = perr("chunk-missing-crlf", "chunk data not followed by CRLF")
	ErrChunkLineTooLong  = perr("chunk-line-too-long", "chunk-size line too long")
	ErrTrailerTooLarge   = perr("trailer-too-large", "trailer section too large")
	ErrTruncatedBody     = perr("truncated-body", "connection closed before the end of the body")
)
