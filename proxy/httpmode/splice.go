package httpmode

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// spliceN moves up to n bytes from the socket of src to the socket of dst through a
// pipe, without copying them to user space. It works on the RawConns of *net.TCPConn
// and *FDConn alike (package net splices only between its own connections): both
// waits go through Go's netpoller under the connections' deadlines. It returns the
// bytes written to dst, and either rerr (reading src failed; io.EOF when src ended
// before n bytes) or werr (writing dst failed). Without a pipe (out of descriptors)
// it returns 0 and no error: the caller copies through user space.
func spliceN(dst, src syscall.RawConn, n int64) (written int64, rerr, werr error) {
	p := getPipe()
	if p == nil {
		return 0, nil, nil
	}
	defer func() {
		if p.data > 0 {
			p.close() // bytes read but not written: the pipe cannot be reused
		} else {
			pipePool.Put(p)
		}
	}()
	for written < n {
		if p.data == 0 {
			want := int(min(n-written, maxPipeChunk))
			var got int
			var errno syscall.Errno
			err := src.Read(func(fd uintptr) bool {
				for {
					k, _, e := unix.RawSyscall6(unix.SYS_SPLICE, fd, 0, uintptr(p.w), 0, uintptr(want), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
					switch e {
					case 0:
						got = int(k)
						return true
					case syscall.EINTR:
						continue
					case syscall.EAGAIN:
						return false
					}
					errno = e
					return true
				}
			})
			switch {
			case err != nil:
				return written, &net.OpError{Op: "read", Net: "tcp", Err: err}, nil
			case errno != 0:
				return written, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("splice", errno)}, nil
			case got == 0:
				return written, io.EOF, nil
			}
			p.data = got
		}
		var errno syscall.Errno
		err := dst.Write(func(fd uintptr) bool {
			for p.data > 0 {
				k, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(p.r), 0, fd, 0, uintptr(p.data), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				switch e {
				case 0:
					p.data -= int(k)
					written += int64(k)
					continue
				case syscall.EINTR:
					continue
				case syscall.EAGAIN:
					return false
				}
				errno = e
				return true
			}
			return true
		})
		switch {
		case err != nil:
			return written, nil, &net.OpError{Op: "write", Net: "tcp", Err: err}
		case errno != 0:
			return written, nil, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("splice", errno)}
		}
	}
	return written, nil, nil
}

// maxPipeChunk bounds one splice into the pipe: a pipe holds 64 KiB by default.
const maxPipeChunk = 64 << 10

// splicePipe is a pipe used by spliceN; data is what it holds (0 between uses).
type splicePipe struct {
	r, w int
	data int
}

func (p *splicePipe) close() {
	runtime.SetFinalizer(p, nil)
	unix.Close(p.r)
	unix.Close(p.w)
}

// pipePool keeps empty pipes for reuse: a pipe costs two descriptors and three system
// calls to make and to close. A pipe the pool drops is closed by its finalizer.
var pipePool sync.Pool // of *splicePipe

// getPipe returns an empty pipe, or nil when none can be made.
func getPipe() *splicePipe {
	if v := pipePool.Get(); v != nil {
		return v.(*splicePipe)
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil
	}
	p := &splicePipe{r: fds[0], w: fds[1]}
	runtime.SetFinalizer(p, (*splicePipe).close)
	return p
}
