package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultTimeout is how long a connection may stay idle waiting for a
// command, and how long a write may block (HAProxy's `stats timeout`
// default).
const DefaultTimeout = 10 * time.Second

// DefaultMaxConns bounds the connections served at once per Server
// (HAProxy's `stats maxconn` default); more wait in the accept queue.
const DefaultMaxConns = 10

// Server answers runtime API connections on any number of listeners, each
// with its own level. The zero value is not usable: call NewServer.
type Server struct {
	t   Target
	log *zap.Logger

	// Timeout and MaxConns may be changed before the first Serve.
	Timeout  time.Duration
	MaxConns int
	// Intercept, when set before the first Serve, sees every command first (its
	// words, and the session's level): a command it handles is answered with ans (the
	// answer's lines, each ending in a newline; "" for silent success) and not run here. Replication commits map and server writes
	// this way before they are answered; it enforces levels itself.
	Intercept func(level Level, args []string) (ans string, handled bool)

	mu     sync.Mutex
	ls     map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	closed bool
	sem    chan struct{}
	wg     sync.WaitGroup
}

// NewServer returns a Server driving t. log may be nil.
func NewServer(t Target, log *zap.Logger) *Server {
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{t: t, log: log, Timeout: DefaultTimeout, MaxConns: DefaultMaxConns,
		ls: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("runtime: server closed")

// Serve is the one-listener shorthand: NewServer(t, log).Serve(l, level).
func Serve(l net.Listener, level Level, t Target, log *zap.Logger) error {
	return NewServer(t, log).Serve(l, level)
}

// Serve accepts connections on l until l fails or the Server is closed,
// answering each at level. It closes l when it returns.
func (s *Server) Serve(l net.Listener, level Level) error {
	if level < LevelUser || level > LevelAdmin {
		return fmt.Errorf("runtime: invalid level %d", level)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	if s.sem == nil {
		s.sem = make(chan struct{}, max(1, s.MaxConns))
	}
	s.ls[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.ls, l)
		s.mu.Unlock()
		l.Close()
	}()
	for {
		s.sem <- struct{}{} // wait for a free slot before accepting more
		c, err := l.Accept()
		if err != nil {
			<-s.sem
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // transient (EMFILE and the like): back off, keep serving
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			<-s.sem
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
				<-s.sem
				s.wg.Done()
			}()
			s.serveConn(c, level)
		}()
	}
}

// Close stops every Serve, closes open connections and waits for their
// goroutines to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.ls {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// deadlineWriter pushes the write deadline forward on every write, so a
// long dump to a reader that keeps up never times out, and one that stops
// reading does.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.c.Write(p)
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line (without its "\n" or "\r\n"), at most MaxLine
// bytes. At EOF a last unterminated line is returned with io.EOF.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(b)+len(frag) > MaxLine+2 {
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

// hasBufferedLine says whether a whole line already waits in r: HAProxy
// answers lines that arrived together even outside prompt mode.
func hasBufferedLine(r *bufio.Reader) bool {
	n := r.Buffered()
	if n == 0 {
		return false
	}
	p, _ := r.Peek(n)
	return bytes.IndexByte(p, '\n') >= 0
}

func (s *Server) serveConn(c net.Conn, level Level) {
	sess := &session{level: level}
	r := bufio.NewReaderSize(c, 4096)
	w := bufio.NewWriterSize(deadlineWriter{c, s.Timeout}, 16384)
	defer w.Flush()
	for {
		c.SetReadDeadline(time.Now().Add(s.Timeout))
		line, err := readLine(r)
		if err == errLineTooLong {
			w.WriteString("Command line too long (at most 16384 bytes).\n\n")
			s.log.Info("runtime: command line too long", zap.String("remote", c.RemoteAddr().String()))
			return
		}
		if err != nil && (err != io.EOF || line == "") {
			return // EOF, timeout or reset: nothing more to answer
		}
		s.execLine(sess, line, w, c.RemoteAddr().String())
		if sess.quit {
			return
		}
		if w.Flush() != nil {
			return
		}
		if err == io.EOF {
			return
		}
		if !sess.interactive && !hasBufferedLine(r) {
			return
		}
	}
}

// execLine runs the ';'-separated commands of one line, each answer ended
// by an empty line, and the prompt after each in interactive mode.
func (s *Server) execLine(sess *session, line string, w *bufio.Writer, remote string) {
	for _, cmd := range SplitCommands(line) {
		s.execOne(sess, cmd, w, remote)
		if sess.quit {
			return
		}
		w.WriteByte('\n')
		if sess.interactive {
			w.WriteString("> ")
		}
	}
}

// execOne runs one command. A panic in a handler is answered and logged,
// never allowed to take the process down.
func (s *Server) execOne(sess *session, cmd string, w *bufio.Writer, remote string) {
	x := &execCtx{w: w, t: s.t, sess: sess}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("runtime: command failed", zap.String("remote", remote), zap.Any("panic", p))
			w.WriteString("Internal error: the command failed (see the log).\n")
		}
	}()
	args, err := SplitWords(cmd)
	if err != nil {
		x.failErr(err)
		return
	}
	if s.Intercept != nil && len(args) > 0 {
		if ans, ok := s.Intercept(sess.level, args); ok {
			s.log.Info("runtime command (intercepted)", zap.String("level", sess.level.String()),
				zap.String("remote", remote), zap.Strings("args", args))
			w.WriteString(ans)
			return
		}
	}
	c := lookup(args)
	if c == nil {
		usage(x, args, false)
		return
	}
	if sess.level < c.level {
		x.fail("Permission denied")
		return
	}
	if c.level > LevelUser && c.words[0] != "show" {
		// state changes and session dumps are worth a trace; the words
		// are table keys, map entries and names, never credentials
		s.log.Info("runtime command", zap.String("level", sess.level.String()),
			zap.String("remote", remote), zap.Strings("args", args))
	}
	c.run(x, args)
}

// Exec runs a command line (';'-separated commands) at level and returns
// the answer exactly as a socket would send it. For the admin API and
// tests; prompt and quit have no lasting effect here.
func (s *Server) Exec(level Level, line string) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	s.execLine(&session{level: level}, line, w, "exec")
	w.Flush()
	return b.String()
}
