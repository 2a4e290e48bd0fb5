package http1

import "strings"

// SmugglingCase is one malformed or ambiguous request from SmugglingCases.
// Exactly one of HeadErr, BodyErr and Forward describes the expected
// outcome:
//   - HeadErr: Request.Parse refuses the head; a proxy answers 400 and sends
//     nothing to the server.
//   - BodyErr: the head is valid but the chunked body is not; CopyBody stops
//     with BodyErr before the malformed bytes, so a proxy forwards the head
//     and the valid chunks (re-encoded) at most, then aborts both sides.
//   - Forward: the request is accepted after normalisation; Forward is what
//     a proxy that adds no header of its own sends to the server (canonical
//     head from AppendTo, body re-encoded by CopyBody).
type SmugglingCase struct {
	Name    string
	Request string
	HeadErr *ParseError
	BodyErr *ParseError
	Forward string
}

// SmugglingCases is the table of refused and normalised request shapes,
// shared by this package's tests and the proxy's end-to-end tests (which
// assert what the backend receives).
var SmugglingCases = buildSmugglingCases()

func buildSmugglingCases() []SmugglingCase {
	const post = "POST /up HTTP/1.1\r\nHost: a.example\r\n"
	head := func(name, req string, err *ParseError) SmugglingCase {
		return SmugglingCase{Name: name, Request: req, HeadErr: err}
	}
	body := func(name, chunks string, err *ParseError) SmugglingCase {
		return SmugglingCase{Name: name, Request: post + "Transfer-Encoding: chunked\r\n\r\n" + chunks, BodyErr: err}
	}
	ok := func(name, req, fwd string) SmugglingCase {
		return SmugglingCase{Name: name, Request: req, Forward: fwd}
	}
	many := &strings.Builder{}
	many.WriteString("GET / HTTP/1.1\r\nHost: a.example\r\n")
	for i := 0; i < MaxHeaders; i++ {
		many.WriteString("X-H: v\r\n")
	}
	many.WriteString("\r\n")

	return []SmugglingCase{
		// Content-Length / Transfer-Encoding ambiguity
		head("cl-then-te", post+"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ErrCLAndTE),
		head("te-then-cl", post+"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", ErrCLAndTE),
		head("cl-differing-dup", post+"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", ErrDupContentLength),
		head("cl-differing-list", post+"Content-Length: 5, 6\r\n\r\nhello!", ErrDupContentLength),
		head("cl-plus-sign", post+"Content-Length: +5\r\n\r\nhello", ErrBadContentLength),
		head("cl-negative", post+"Content-Length: -1\r\n\r\n", ErrBadContentLength),
		head("cl-trailing-garbage", post+"Content-Length: 5a\r\n\r\nhello", ErrBadContentLength),
		head("cl-hex", post+"Content-Length: 0x5\r\n\r\nhello", ErrBadContentLength),
		head("cl-overflow", post+"Content-Length: 99999999999999999999\r\n\r\n", ErrBadContentLength),
		head("cl-empty", post+"Content-Length: \r\n\r\n", ErrBadContentLength),
		head("cl-inner-space", post+"Content-Length: 1 0\r\n\r\n", ErrBadContentLength),
		head("te-chunked-not-final", post+"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", ErrBadTransferEncoding),
		head("te-identity", post+"Transfer-Encoding: identity\r\n\r\n", ErrBadTransferEncoding),
		head("te-xchunked", post+"Transfer-Encoding: xchunked\r\n\r\n", ErrBadTransferEncoding),
		head("te-gzip-chunked-request", post+"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", ErrBadTransferEncoding),
		head("te-chunked-twice", post+"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ErrBadTransferEncoding),
		head("te-parameter", post+"Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", ErrBadTransferEncoding),
		head("te-quoted", post+"Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", ErrBadTransferEncoding),
		head("te-vertical-tab", post+"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", ErrBadHeaderValue),
		head("te-space-before-colon", post+"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", ErrSpaceBeforeColon),
		head("te-tab-before-colon", post+"Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", ErrSpaceBeforeColon),
		head("te-obs-fold", post+"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", ErrObsFold),
		head("te-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ErrTEInHTTP10),
		head("te-bare-lf", post+"Transfer-Encoding: chunked\n\r\n0\r\n\r\n", ErrBareLF),
		// Line endings and forbidden bytes
		head("bare-lf-everywhere", "GET / HTTP/1.1\nHost: a.example\n\n", ErrBareLF),
		head("bare-lf-end-of-head", "GET / HTTP/1.1\r\nHost: a.example\r\n\n", ErrBareLF),
		head("bare-cr-in-value", "GET / HTTP/1.1\r\nHost: a.example\r\nX-A: 1\rX-B: 2\r\n\r\n", ErrBadHeaderValue),
		head("nul-in-value", "GET / HTTP/1.1\r\nHost: a.example\r\nX-A: a\x00b\r\n\r\n", ErrBadHeaderValue),
		head("nul-in-name", "GET / HTTP/1.1\r\nHost: a.example\r\nX\x00A: 1\r\n\r\n", ErrBadHeaderName),
		head("bad-name-char", "GET / HTTP/1.1\r\nHost: a.example\r\nX@A: 1\r\n\r\n", ErrBadHeaderName),
		head("no-colon", "GET / HTTP/1.1\r\nHost: a.example\r\nX-A\r\n\r\n", ErrBadHeaderName),
		head("empty-name", "GET / HTTP/1.1\r\nHost: a.example\r\n: 1\r\n\r\n", ErrBadHeaderName),
		head("obs-fold-first-line", "GET / HTTP/1.1\r\n Host: a.example\r\n\r\n", ErrObsFold),
		// Request line
		head("bad-method-char", "G(ET / HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrBadMethod),
		head("double-space", "GET  / HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrBadRequestLine),
		head("http09", "GET /\r\n\r\n", ErrBadRequestLine),
		head("space-in-target", "GET /a b HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrBadTarget),
		head("ctl-in-target", "GET /a\x01b HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrBadTarget),
		head("fragment-in-target", "GET /a#b HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrBadTarget),
		head("absolute-no-authority", "GET http:///a HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrBadTarget),
		head("version-1.2", "GET / HTTP/1.2\r\nHost: a.example\r\n\r\n", ErrBadVersion),
		head("version-lower-case", "GET / http/1.1\r\nHost: a.example\r\n\r\n", ErrBadVersion),
		head("version-2", "GET / HTTP/2.0\r\nHost: a.example\r\n\r\n", ErrBadVersion),
		// Host
		head("missing-host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", ErrMissingHost),
		head("dup-host", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", ErrDupHost),
		head("host-authority-mismatch", "GET http://evil.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n", ErrHostMismatch),
		head("connect-host-mismatch", "CONNECT evil.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", ErrHostMismatch),
		head("absolute-userinfo", "GET http://a.example@evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n", ErrBadTarget),
		head("host-with-space", "GET / HTTP/1.1\r\nHost: a.example b.example\r\n\r\n", ErrBadHost),
		// Size
		head("head-too-large", "GET / HTTP/1.1\r\nHost: a.example\r\nX-Big: "+strings.Repeat("a", DefaultBufSize)+"\r\n\r\n", ErrHeadTooLarge),
		head("too-many-headers", many.String(), ErrTooManyHeaders),
		// Chunked bodies
		body("chunk-size-not-hex", "zz\r\nhello\r\n0\r\n\r\n", ErrBadChunkSize),
		body("chunk-size-negative", "-5\r\nhello\r\n0\r\n\r\n", ErrBadChunkSize),
		body("chunk-size-0x", "0x5\r\nhello\r\n0\r\n\r\n", ErrBadChunkSize),
		body("chunk-size-empty", "\r\nhello\r\n0\r\n\r\n", ErrBadChunkSize),
		body("chunk-size-overflow", "fffffffffffffffff\r\nhello\r\n0\r\n\r\n", ErrChunkSizeOverflow),
		body("chunk-size-bare-lf", "5\nhello\r\n0\r\n\r\n", ErrBareLF),
		body("chunk-data-too-long", "3\r\nhello\r\n0\r\n\r\n", ErrChunkMissingCRLF),
		body("chunk-data-bare-lf", "5\r\nhello\n0\r\n\r\n", ErrChunkMissingCRLF),
		body("chunk-ext-ctl", "5;a\x01b\r\nhello\r\n0\r\n\r\n", ErrBadChunkExt),
		body("chunk-ext-unclosed-quote", "5;a=\"b\r\nhello\r\n0\r\n\r\n", ErrBadChunkExt),
		body("chunk-size-trailing-space", "5 \r\nhello\r\n0\r\n\r\n", ErrBadChunkExt),
		body("trailer-obs-fold", "0\r\nX-T: 1\r\n 2\r\n\r\n", ErrObsFold),
		body("trailer-space-before-colon", "0\r\nX-T : 1\r\n\r\n", ErrSpaceBeforeColon),
		// Accepted after normalisation
		ok("cl-identical-dup",
			post+"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
			post+"Content-Length: 5\r\n\r\nhello"),
		ok("cl-identical-list",
			post+"Content-Length: 5, 5\r\n\r\nhello",
			post+"Content-Length: 5\r\n\r\nhello"),
		ok("te-case-and-list",
			post+"Transfer-Encoding: , Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
		ok("chunk-ext-and-leading-zeros",
			post+"Transfer-Encoding: chunked\r\n\r\n005;name=\"v\\\"x\" ; n2=t\r\nhello\r\n0\r\n\r\n",
			post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
		ok("chunk-trailers-kept",
			post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum:   42 \r\n\r\n",
			post+"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"),
		ok("ows-trimmed",
			"GET / HTTP/1.1\r\nHost:\ta.example  \r\nX-A:1\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a.example\r\nX-A: 1\r\n\r\n"),
		ok("leading-empty-line",
			"\r\nGET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
	}
}
