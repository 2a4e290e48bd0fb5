package http1

import (
	"errors"
	"io"
)

// ErrBufferFull is returned by Fill when the window is full: the caller's
// buffer is smaller than the message part it must hold.
var ErrBufferFull = errors.New("http1: buffer full")

// Reader is a read window over a connection, on a buffer the caller owns
// (typically pooled, tune.bufsize bytes). It is the only I/O in this package
// besides CopyBody: the parsers and the chunked decoder work on its window.
//
// Lifetime: a head read by ReadRequest/ReadResponse refers to the window.
// Any later call that reads from the connection (Fill, Read, CopyBody,
// the next ReadRequest) may overwrite it, so serialize or copy what you need
// from the head before reading its body.
type Reader struct {
	src  io.Reader
	buf  []byte
	r, w int
	err  error // sticky read error
}

// NewReader returns a Reader over src using buf as its window.
func NewReader(src io.Reader, buf []byte) *Reader {
	return &Reader{src: src, buf: buf}
}

// Reset reuses the Reader (and its buffer) for another connection.
func (b *Reader) Reset(src io.Reader) {
	b.src, b.r, b.w, b.err = src, 0, 0, nil
}

// Buffered returns the bytes read from the connection but not yet consumed.
func (b *Reader) Buffered() []byte { return b.buf[b.r:b.w] }

// Discard consumes n buffered bytes.
func (b *Reader) Discard(n int) {
	if n < 0 || n > b.w-b.r {
		panic("http1: Discard out of range")
	}
	b.r += n
}

// Fill reads once from the connection into the window, moving unconsumed
// bytes to the front first when the window has reached the end of the
// buffer. It returns ErrBufferFull when no room is left, or the read error
// (io.EOF on a clean close) once the buffered bytes have been delivered.
func (b *Reader) Fill() error {
	if b.r == b.w {
		b.r, b.w = 0, 0
	} else if b.w == len(b.buf) && b.r > 0 {
		copy(b.buf, b.buf[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	if b.w == len(b.buf) {
		return ErrBufferFull
	}
	if b.err != nil {
		return b.err
	}
	for range 100 {
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if err != nil {
			b.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// Read implements io.Reader: buffered bytes first, then the connection.
func (b *Reader) Read(p []byte) (int, error) {
	if b.r == b.w {
		if len(p) >= len(b.buf) {
			if b.err != nil {
				return 0, b.err
			}
			return b.src.Read(p)
		}
		if err := b.Fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// ReadRequest reads and parses the next request head and consumes it from
// the window. It returns io.EOF when the connection closed cleanly before
// any byte of a new request, io.ErrUnexpectedEOF when it closed inside a
// head, a *ParseError for a malformed head (answer 400 and close), or
// another read error (a timeout: answer 408).
func (b *Reader) ReadRequest(req *Request, lim Limits) error {
	return b.readHead(req.Parse, lim)
}

// ReadResponse is ReadRequest for a response head (answer 502 to a
// *ParseError). Call it again after an interim (1xx) response.
func (b *Reader) ReadResponse(resp *Response, lim Limits) error {
	return b.readHead(resp.Parse, lim)
}

func (b *Reader) readHead(parse func([]byte, Limits) (int, error), lim Limits) error {
	for {
		if b.r < b.w {
			n, err := parse(b.buf[b.r:b.w], lim)
			if err == nil {
				b.r += n
				return nil
			}
			if err != ErrNeedMore {
				return err
			}
		}
		switch err := b.Fill(); err {
		case nil:
		case ErrBufferFull:
			return ErrHeadTooLarge
		case io.EOF:
			if b.r == b.w {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		default:
			return err
		}
	}
}

// ErrTunnel is returned by CopyBody for BodyTunnel framing: a tunnel copies
// both directions until either side closes, which is the proxy's job
// (Buffered bytes first, then the raw connections).
var ErrTunnel = errors.New("http1: tunnel framing has no body to copy")

// CopyBody copies the body that follows a head just read, framed by f, to w.
// Content-Length and until-close bodies are copied as they are (straight
// from the connection once the window is drained, which lets *net.TCPConn
// use splice); chunked bodies go through dec (Reset by CopyBody) and are
// re-encoded canonically via out, a scratch buffer the caller owns (pooled,
// a few KiB; it is not grown). Bodies are never held whole in memory.
// A connection that ends early yields ErrTruncatedBody. It returns the
// number of bytes written to w.
func (b *Reader) CopyBody(w io.Writer, f Framing, dec *ChunkedDecoder, out []byte) (int64, error) {
	switch f.Kind {
	case BodyNone:
		return 0, nil
	case BodyTunnel:
		return 0, ErrTunnel
	case BodyLength:
		return b.copyLength(w, f.Length)
	case BodyUntilClose:
		return b.copyUntilClose(w)
	case BodyChunked:
		return b.copyChunked(w, dec, out)
	}
	return 0, errors.New("http1: unknown framing")
}

func (b *Reader) copyLength(w io.Writer, n int64) (int64, error) {
	var written int64
	if k := int64(b.w - b.r); k > 0 {
		k = min(k, n)
		m, err := w.Write(b.buf[b.r : b.r+int(k)])
		b.r += m
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	if written == n {
		return written, nil
	}
	if b.err != nil {
		if b.err == io.EOF {
			return written, ErrTruncatedBody
		}
		return written, b.err
	}
	m, err := io.CopyN(w, b.src, n-written)
	written += m
	if err == io.EOF {
		b.err = io.EOF
		return written, ErrTruncatedBody
	}
	return written, err
}

func (b *Reader) copyUntilClose(w io.Writer) (int64, error) {
	var written int64
	if b.r < b.w {
		m, err := w.Write(b.buf[b.r:b.w])
		b.r += m
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	if b.err != nil {
		if b.err == io.EOF {
			return written, nil
		}
		return written, b.err
	}
	m, err := io.Copy(w, b.src)
	b.err = io.EOF
	return written + m, err
}

func (b *Reader) copyChunked(w io.Writer, dec *ChunkedDecoder, out []byte) (int64, error) {
	if cap(out) == 0 {
		return 0, errors.New("http1: CopyBody needs a scratch buffer for chunked bodies")
	}
	dec.Reset()
	var written int64
	for {
		o, n, derr := dec.Decode(out[:0], b.buf[b.r:b.w])
		b.r += n
		if len(o) > 0 {
			m, err := w.Write(o)
			written += int64(m)
			if err != nil {
				return written, err
			}
		}
		if derr == io.EOF {
			return written, nil
		}
		if derr != nil {
			return written, derr
		}
		if n > 0 || len(o) > 0 {
			continue
		}
		switch err := b.Fill(); err {
		case nil:
		case ErrBufferFull:
			if dec.state == stTrailer {
				return written, ErrTrailerTooLarge
			}
			return written, ErrChunkLineTooLong
		case io.EOF:
			return written, ErrTruncatedBody
		default:
			return written, err
		}
	}
}
