package http1

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// forward plays a minimal proxy: read one request through a Reader, write
// its head and body to out. It returns the head error or the body error.
func forward(raw string, bufSize int) (out []byte, headErr, bodyErr error) {
	rd := NewReader(strings.NewReader(raw), make([]byte, bufSize))
	var req Request
	if err := rd.ReadRequest(&req, Limits{}); err != nil {
		return nil, err, nil
	}
	var w bytes.Buffer
	w.Write(req.AppendTo(nil))
	var dec ChunkedDecoder
	_, err := rd.CopyBody(&w, req.Framing(), &dec, make([]byte, 0, 64))
	return w.Bytes(), nil, err
}

func TestSmugglingCases(t *testing.T) {
	if len(SmugglingCases) < 30 {
		t.Fatalf("only %d smuggling cases, want at least 30", len(SmugglingCases))
	}
	names := map[string]bool{}
	for _, c := range SmugglingCases {
		if names[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		set := 0
		if c.HeadErr != nil {
			set++
		}
		if c.BodyErr != nil {
			set++
		}
		if c.Forward != "" {
			set++
		}
		if set != 1 {
			t.Errorf("%s: exactly one of HeadErr, BodyErr, Forward must be set", c.Name)
		}
		// Window large enough for every head, so that head-too-large comes
		// from the limit, not the buffer.
		for _, bufSize := range []int{DefaultBufSize + 1024, 40000} {
			out, herr, berr := forward(c.Request, bufSize)
			switch {
			case c.HeadErr != nil:
				if !errors.Is(herr, c.HeadErr) {
					t.Errorf("%s: head error %v, want %v", c.Name, herr, c.HeadErr)
				}
			case c.BodyErr != nil:
				if herr != nil {
					t.Errorf("%s: head refused (%v), want body error %v", c.Name, herr, c.BodyErr)
					continue
				}
				if !errors.Is(berr, c.BodyErr) {
					t.Errorf("%s: body error %v, want %v", c.Name, berr, c.BodyErr)
				}
				// Nothing malformed went out: what was forwarded is a
				// prefix of a well-formed message, head canonical.
				if !bytes.HasPrefix(out, []byte("POST /up HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n")) {
					t.Errorf("%s: forwarded %q", c.Name, out)
				}
				fwdBody := out[bytes.Index(out, []byte("\r\n\r\n"))+4:]
				var d ChunkedDecoder
				if _, _, err := d.Decode(nil, fwdBody); err != nil {
					t.Errorf("%s: forwarded body prefix %q is malformed: %v", c.Name, fwdBody, err)
				}
			default:
				if herr != nil || berr != nil {
					t.Errorf("%s: refused (%v, %v), want accepted", c.Name, herr, berr)
					continue
				}
				if string(out) != c.Forward {
					t.Errorf("%s: forwarded\n%q\nwant\n%q", c.Name, out, c.Forward)
				}
			}
		}
	}
}

// Every refusal has a distinct, stable name for logs and counters.
func TestErrorNamesDistinct(t *testing.T) {
	all := []*ParseError{ErrHeadTooLarge, ErrTooManyHeaders, ErrBareLF, ErrBareCR, ErrObsFold,
		ErrSpaceBeforeColon, ErrBadHeaderName, ErrBadHeaderValue, ErrBadMethod, ErrBadTarget,
		ErrBadRequestLine, ErrBadVersion, ErrBadStatusLine, ErrCLAndTE, ErrDupContentLength,
		ErrBadContentLength, ErrBadTransferEncoding, ErrTEInHTTP10, ErrMissingHost, ErrDupHost,
		ErrBadHost, ErrHostMismatch, ErrBadChunkSize, ErrChunkSizeOverflow, ErrBadChunkExt, ErrChunkMissingCRLF,
		ErrChunkLineTooLong, ErrTrailerTooLarge, ErrTruncatedBody}
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.Name] {
			t.Errorf("duplicate error name %q", e.Name)
		}
		seen[e.Name] = true
		if !strings.Contains(e.Error(), e.Name) {
			t.Errorf("%v does not mention its name", e)
		}
	}
}
