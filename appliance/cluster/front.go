package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"appl/proxy/runtime"
)

// Front serves the runtime API while replication runs: replicated writes go through
// Writes (committed before they are answered), every other command to the runtime
// server as usual. It keeps the connection state the runtime server would (level,
// prompt mode, quit), since it runs commands one by one with Exec.
type Front struct {
	RT      *runtime.Server
	Writes  *Writes
	Log     *zap.Logger
	Timeout time.Duration // idle and write timeout per connection (default 10 s)

	mu     sync.Mutex
	ls     []net.Listener
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type session struct {
	level       runtime.Level
	interactive bool
	quit        bool
}

// Exec runs a command line (';'-separated commands) at level, as Serve would answer it
// (for the admin API).
func (f *Front) Exec(level runtime.Level, line string) string {
	var b bytes.Buffer
	f.execLine(&session{level: level}, line, &b)
	return b.String()
}

func (f *Front) execLine(s *session, line string, w io.Writer) {
	for _, cmd := range runtime.SplitCommands(line) {
		f.execOne(s, cmd, w)
		if s.quit {
			return
		}
		if s.interactive {
			io.WriteString(w, "> ")
		}
	}
}

func (f *Front) execOne(s *session, cmd string, w io.Writer) {
	args, err := runtime.SplitWords(cmd)
	if err == nil && len(args) > 0 {
		if ans, ok := f.Writes.Handle(s.level, args); ok {
			if f.Log != nil && s.level >= runtime.LevelOperator {
				f.Log.Info("runtime command (replicated)", zap.String("level", s.level.String()), zap.Strings("args", args))
			}
			io.WriteString(w, ans+"\n")
			return
		}
		// Connection state the runtime server's one-shot Exec cannot keep.
		switch strings.Join(args, " ") {
		case "prompt":
			s.interactive = !s.interactive
		case "quit":
			s.quit = true
			return
		case "operator":
			s.level = min(s.level, runtime.LevelOperator)
		case "user":
			s.level = min(s.level, runtime.LevelUser)
		}
	}
	io.WriteString(w, f.RT.Exec(s.level, cmd))
}

// Serve answers connections on l at level until l fails or Close. It closes l.
func (f *Front) Serve(l net.Listener, level runtime.Level) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		l.Close()
		return runtime.ErrServerClosed
	}
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.ls = append(f.ls, l)
	f.mu.Unlock()
	defer l.Close()
	sem := make(chan struct{}, runtime.DefaultMaxConns)
	for {
		c, err := l.Accept()
		if err != nil {
			f.mu.Lock()
			closed := f.closed
			f.mu.Unlock()
			if closed {
				return runtime.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // transient (EMFILE): back off, keep serving
				continue
			}
			return err
		}
		sem <- struct{}{}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			c.Close()
			return runtime.ErrServerClosed
		}
		f.conns[c] = struct{}{}
		f.wg.Add(1)
		f.mu.Unlock()
		go func() {
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
				c.Close()
				<-sem
				f.wg.Done()
			}()
			f.serveConn(c, level)
		}()
	}
}

// Close stops every Serve and closes open connections.
func (f *Front) Close() error {
	f.mu.Lock()
	f.closed = true
	for _, l := range f.ls {
		l.Close()
	}
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return nil
}

func (f *Front) serveConn(c net.Conn, level runtime.Level) {
	to := f.Timeout
	if to <= 0 {
		to = runtime.DefaultTimeout
	}
	s := &session{level: level}
	r := bufio.NewReaderSize(c, 4096)
	var out bytes.Buffer
	for {
		c.SetReadDeadline(time.Now().Add(to))
		line, err := readLine(r)
		if err == errLineTooLong {
			c.SetWriteDeadline(time.Now().Add(to))
			io.WriteString(c, "Command line too long (at most 16384 bytes).\n\n")
			return
		}
		if err != nil && (err != io.EOF || line == "") {
			return
		}
		out.Reset()
		f.execLine(s, line, &out)
		c.SetWriteDeadline(time.Now().Add(to))
		if _, werr := c.Write(out.Bytes()); werr != nil || s.quit || err == io.EOF {
			return
		}
		if !s.interactive && !hasBufferedLine(r) {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(b)+len(frag) > runtime.MaxLine+2 {
			return "", errLineTooLong
		}
		b = append(b, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(b) > 0 && err == io.EOF {
				return strings.TrimRight(string(b), "\r"), io.EOF
			}
			return "", err
		}
		return strings.TrimRight(string(b[:len(b)-1]), "\r"), nil
	}
}

func hasBufferedLine(r *bufio.Reader) bool {
	n := r.Buffered()
	if n == 0 {
		return false
	}
	p, _ := r.Peek(n)
	return bytes.IndexByte(p, '\n') >= 0
}
