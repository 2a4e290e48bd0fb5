package http1

import (
	"bytes"
	"io"
)

// DefaultMaxChunkLine bounds a chunk-size line, extensions included.
const DefaultMaxChunkLine = 4096

// ChunkedDecoder is the state machine of the chunked transfer coding (RFC
// 9112 7.1), separate from any I/O. Feed it the bytes that follow the head
// with Decode; it validates every chunk-size line, chunk delimiter and
// trailer field, and emits a canonical re-encoding: chunk sizes kept (in
// lower-case hex without leading zeros), chunk extensions dropped, trailer
// fields kept as "Name: value". It never holds more than one line: chunk
// data passes straight from src to dst.
//
// The zero value is ready to use; Reset it before each body.
type ChunkedDecoder struct {
	// MaxTrailer bounds the trailer section; 0 means DefaultBufSize.
	MaxTrailer int
	// MaxLine bounds a chunk-size line; 0 means DefaultMaxChunkLine.
	MaxLine int

	state   uint8
	left    int64 // payload bytes left in the current chunk
	trailer int   // trailer bytes seen
	payload bool  // emit payload only (DecodePayload)
}

const (
	stSize = iota
	stData
	stDataCRLF
	stTrailer
	stDone
)

// Reset prepares the decoder for a new body, keeping its limits.
func (d *ChunkedDecoder) Reset() {
	d.state, d.left, d.trailer = stSize, 0, 0
}

// Done reports whether the last chunk and the trailer section have been read.
func (d *ChunkedDecoder) Done() bool { return d.state == stDone }

// Decode consumes chunked bytes from src and appends their canonical
// re-encoding to dst. It returns the extended dst and the number of bytes of
// src consumed; bytes not consumed (an incomplete line) must be presented
// again, followed by more input. err is:
//   - nil: src is exhausted up to an incomplete line, or dst is full
//     (when cap(dst) > 0, Decode does not grow dst beyond cap(dst) except to
//     fit a single line into an empty dst); flush dst and call again;
//   - io.EOF: the body is complete; src[n:] belongs to the next message;
//   - a *ParseError: the body is malformed and must not be forwarded further.
func (d *ChunkedDecoder) Decode(dst, src []byte) ([]byte, int, error) {
	d.payload = false
	return d.decode(dst, src)
}

// DecodePayload is Decode emitting only the payload bytes (no framing, no
// trailers), for consumers of the body itself such as health checks.
func (d *ChunkedDecoder) DecodePayload(dst, src []byte) ([]byte, int, error) {
	d.payload = true
	return d.decode(dst, src)
}

func (d *ChunkedDecoder) decode(dst, src []byte) ([]byte, int, error) {
	// limit is the capacity dst must not outgrow; 0 means unbounded.
	limit := cap(dst)
	fits := func(need int) bool {
		return limit == 0 || len(dst) == 0 || len(dst)+need <= limit
	}
	pos := 0
	for {
		switch d.state {
		case stDone:
			return dst, pos, io.EOF

		case stSize:
			maxLine := d.MaxLine
			if maxLine <= 0 {
				maxLine = DefaultMaxChunkLine
			}
			rest := src[pos:]
			lf := bytes.IndexByte(rest[:min(len(rest), maxLine)], '\n')
			if lf < 0 {
				if len(rest) >= maxLine {
					return dst, pos, ErrChunkLineTooLong
				}
				return dst, pos, nil
			}
			size, err := parseChunkLine(rest[:lf])
			if err != nil {
				return dst, pos, err
			}
			if !d.payload {
				if !fits(20) {
					return dst, pos, nil
				}
				dst = appendHex(dst, size)
				dst = append(dst, '\r', '\n')
			}
			pos += lf + 1
			if size == 0 {
				d.state = stTrailer
			} else {
				d.state, d.left = stData, size
			}

		case stData:
			k := len(src) - pos
			if int64(k) > d.left {
				k = int(d.left)
			}
			if limit > 0 && k > limit-len(dst) {
				k = limit - len(dst)
			}
			if k == 0 {
				return dst, pos, nil
			}
			dst = append(dst, src[pos:pos+k]...)
			pos += k
			d.left -= int64(k)
			if d.left == 0 {
				d.state = stDataCRLF
			}

		case stDataCRLF:
			if pos >= len(src) {
				return dst, pos, nil
			}
			if src[pos] != '\r' {
				return dst, pos, ErrChunkMissingCRLF
			}
			if pos+1 >= len(src) {
				return dst, pos, nil
			}
			if src[pos+1] != '\n' {
				return dst, pos, ErrChunkMissingCRLF
			}
			if !d.payload {
				if !fits(2) {
					return dst, pos, nil
				}
				dst = append(dst, '\r', '\n')
			}
			pos += 2
			d.state = stSize

		case stTrailer:
			max := d.MaxTrailer
			if max <= 0 {
				max = DefaultBufSize
			}
			if pos >= len(src) {
				return dst, pos, nil
			}
			switch src[pos] {
			case '\r':
				if pos+1 >= len(src) {
					return dst, pos, nil
				}
				if src[pos+1] != '\n' {
					return dst, pos, ErrBareCR
				}
				if !d.payload {
					if !fits(2) {
						return dst, pos, nil
					}
					dst = append(dst, '\r', '\n')
				}
				pos += 2
				d.state = stDone
				continue
			case '\n':
				return dst, pos, ErrBareLF
			}
			name, value, next, err := parseFieldLine(src, pos)
			if err == ErrNeedMore {
				if d.trailer+len(src)-pos > max {
					return dst, pos, ErrTrailerTooLarge
				}
				return dst, pos, nil
			}
			if err != nil {
				return dst, pos, err
			}
			if d.trailer+next-pos > max {
				return dst, pos, ErrTrailerTooLarge
			}
			if !d.payload {
				need := len(name) + len(value) + 4
				if !fits(need) {
					return dst, pos, nil
				}
				dst = append(dst, name...)
				dst = append(dst, ':', ' ')
				dst = append(dst, value...)
				dst = append(dst, '\r', '\n')
			}
			d.trailer += next - pos
			pos = next
		}
	}
}

// parseChunkLine parses "chunk-size [chunk-ext] CR" (the LF already cut).
func parseChunkLine(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, '\r'); i >= 0 && i != len(line)-1 {
		return 0, ErrBareCR
	}
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, ErrBareLF
	}
	line = line[:len(line)-1]
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			goto ext
		}
		if size > (1<<63-1)>>4 {
			return 0, ErrChunkSizeOverflow
		}
		size = size<<4 | int64(v)
	}
ext:
	if i == 0 {
		return 0, ErrBadChunkSize
	}
	e := line[i:]
	if len(e) > 0 && e[0] != ';' && e[0] != ' ' && e[0] != '\t' {
		return 0, ErrBadChunkSize
	}
	if !validChunkExt(e) {
		return 0, ErrBadChunkExt
	}
	return size, nil
}

// validChunkExt checks *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ).
func validChunkExt(e []byte) bool {
	i := 0
	ws := func() {
		for i < len(e) && (e[i] == ' ' || e[i] == '\t') {
			i++
		}
	}
	token := func() bool {
		s := i
		for i < len(e) && tokenChar[e[i]] {
			i++
		}
		return i > s
	}
	for {
		ws()
		if i == len(e) {
			// Whitespace must lead to ';': "5 \r\n" is refused.
			return len(e) == 0 || (e[len(e)-1] != ' ' && e[len(e)-1] != '\t')
		}
		if e[i] != ';' {
			return false
		}
		i++
		ws()
		if !token() {
			return false
		}
		ws()
		if i < len(e) && e[i] == '=' {
			i++
			ws()
			if i < len(e) && e[i] == '"' {
				i++
				closed := false
				for i < len(e) && !closed {
					c := e[i]
					switch {
					case c == '"':
						closed = true
					case c == '\\':
						i++
						if i == len(e) || !valueChar[e[i]] {
							return false
						}
					case !valueChar[c]:
						return false
					}
					i++
				}
				if !closed {
					return false
				}
			} else if !token() {
				return false
			}
		}
	}
}
