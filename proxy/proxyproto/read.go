package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// peekLen bounds what ReadConn peeks: enough for any v1 line and for the v2
// fixed part. The v2 body is then read with its exact declared length.
const peekLen = 128

// Read reads one header from the start of r. It consumes exactly the header:
// the bytes behind it stay in r for the caller. On error nothing is consumed.
// r must be able to buffer at least 108 bytes (bufio's default is 4096).
// An input that ends before any byte gives io.EOF; one that ends inside a
// header gives an error matching both ErrTruncated and io.ErrUnexpectedEOF.
// Read errors (a deadline set by the caller) are returned wrapped.
func Read(r *bufio.Reader) (*Header, error) {
	for {
		b, _ := r.Peek(r.Buffered())
		n, err := headerLen(b)
		if err == errNeedMore {
			// Peek one byte more than is buffered: bufio then reads once,
			// returning whatever arrived, so a short header (15-byte
			// "PROXY UNKNOWN\r\n") never waits for bytes that will not come.
			if _, perr := r.Peek(len(b) + 1); perr != nil {
				return nil, readErr(perr, len(b))
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		if n <= r.Size() {
			if _, perr := r.Peek(n); perr != nil {
				return nil, readErr(perr, len(b))
			}
		}
		// Past this point a v2 body longer than the buffer is consumed
		// while it arrives; a failure then leaves it partly consumed.
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, readErr(err, len(b))
		}
		h, _, err := Parse(buf)
		return h, err
	}
}

// ReadConn reads one header from the start of c and consumes exactly the
// header, so c itself carries on with the stream: there is no buffered
// remainder and no wrapper, and io.Copy between *net.TCPConn keeps using
// splice(2). Set a read deadline on c first; ReadConn honours it.
//
// On a connection that exposes its socket (*net.TCPConn, *net.UnixConn) it
// peeks with MSG_PEEK and then reads exactly the header's length, so garbage
// is refused as soon as its first bytes arrive. Other connections are read
// in small exact pieces (byte by byte up to the v1 CRLF or the 16-byte v2
// prefix). Errors are those of Read, except that a few header bytes may have
// been consumed before an error: close the connection after one.
func ReadConn(c net.Conn) (*Header, error) {
	if sc, ok := c.(syscall.Conn); ok {
		return readPeeking(c, sc)
	}
	prefix, n, err := readHeaderPrefix(c)
	if err != nil {
		return nil, err
	}
	return readRest(c, prefix, n)
}

func readRest(c io.Reader, prefix []byte, n int) (*Header, error) {
	buf := make([]byte, n)
	copy(buf, prefix)
	if _, err := io.ReadFull(c, buf[len(prefix):]); err != nil {
		return nil, readErr(err, len(prefix)+1)
	}
	h, _, err := Parse(buf)
	return h, err
}

// readPeeking peeks at what has arrived, within the connection's read
// deadline, until the bytes decide the header's length or its failure. Bytes
// that are only a valid prefix are then consumed (they belong to the header
// whatever follows), so the next peek waits for new bytes and sees the
// peer's close instead of the same prefix again.
func readPeeking(c net.Conn, sc syscall.Conn) (*Header, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("proxyproto: %w", err)
	}
	var (
		buf  [peekLen]byte
		have int // bytes of the header consumed so far
		n    int
		rerr error
	)
	for {
		err = rc.Read(func(fd uintptr) bool {
			for {
				n, _, rerr = syscall.Recvfrom(int(fd), buf[have:], syscall.MSG_PEEK)
				if rerr != syscall.EINTR {
					break
				}
			}
			return rerr != syscall.EAGAIN
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return nil, readErr(err, have)
		}
		if n == 0 {
			return nil, readErr(io.EOF, have)
		}
		hn, herr := headerLen(buf[:have+n])
		switch {
		case herr == errNeedMore:
			if _, err := io.ReadFull(c, buf[have:have+n]); err != nil {
				return nil, readErr(err, have+1)
			}
			have += n
		case herr != nil:
			return nil, herr
		default:
			return readRest(c, buf[:have], hn)
		}
	}
}

// readHeaderPrefix reads byte by byte until the length is known, so nothing
// past the header is taken from a connection that cannot peek.
func readHeaderPrefix(c io.Reader) ([]byte, int, error) {
	b := make([]byte, 0, v1MaxLen)
	var one [1]byte
	for {
		n, err := headerLen(b)
		if err != errNeedMore {
			return b, n, err
		}
		if _, err := io.ReadFull(c, one[:]); err != nil {
			return nil, 0, readErr(err, len(b))
		}
		b = append(b, one[0])
	}
}

// readErr turns end of input into the package's errors and wraps the rest.
func readErr(err error, have int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if have == 0 && errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("%w (%w)", ErrTruncated, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("proxyproto: reading header: %w", err)
}
