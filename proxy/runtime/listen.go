package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Listen opens a `stats socket` address:
//
//	/run/appl.sock, unix@/run/appl.sock   unix stream socket, created with mode
//	ipv4@127.0.0.1:9999, ipv6@[::1]:9999  TCP (mode is ignored)
//	127.0.0.1:9999, [::1]:9999            TCP as well
//
// A unix socket is created under a temporary name, given its mode, then
// renamed into place, so it is never reachable with looser permissions. A
// stale socket file (nobody answers on it) is replaced; a live one is an
// error, so a second instance does not steal the first one's socket.
// Closing the listener removes the socket file. mode 0 means 0600.
func Listen(addr string, mode os.FileMode) (net.Listener, error) {
	return ListenWith(addr, SocketOptions{Mode: mode, UID: -1, GID: -1})
}

// SocketOptions are a unix `stats socket` line's `mode`, `uid`/`user` and
// `gid`/`group` (names resolved by the caller). UID/GID -1 keep the
// process's own.
type SocketOptions struct {
	Mode     os.FileMode
	UID, GID int
}

// ListenWith is Listen with ownership: the socket file is chowned, like
// its mode, before it is reachable under its name.
func ListenWith(addr string, o SocketOptions) (net.Listener, error) {
	switch {
	case strings.HasPrefix(addr, "unix@"):
		return listenUnix(addr[len("unix@"):], o)
	case strings.HasPrefix(addr, "/"), strings.HasPrefix(addr, "./"), strings.HasPrefix(addr, "../"):
		return listenUnix(addr, o)
	case strings.HasPrefix(addr, "ipv4@"):
		return listenTCP("tcp4", addr[len("ipv4@"):])
	case strings.HasPrefix(addr, "ipv6@"):
		return listenTCP("tcp6", addr[len("ipv6@"):])
	case strings.Contains(addr, "@"):
		return nil, fmt.Errorf("stats socket %q: unsupported address family (use a path, unix@, ipv4@ or ipv6@)", addr)
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return listenTCP("tcp", addr)
	}
	return nil, fmt.Errorf("stats socket %q: expected a socket path or ipv4@ADDR:PORT", addr)
}

func listenTCP(network, addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("stats socket %q: %v", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return nil, fmt.Errorf("stats socket %q: invalid port %q", addr, port)
	}
	if host == "*" {
		host = ""
	}
	l, err := net.Listen(network, net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("stats socket %q: %w", addr, err)
	}
	return l, nil
}

func listenUnix(path string, o SocketOptions) (net.Listener, error) {
	if path == "" {
		return nil, errors.New("stats socket: empty path")
	}
	mode := o.Mode
	if mode == 0 {
		mode = 0o600
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("stats socket %s: exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("stats socket %s: already in use by a running process", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("stats socket %s: %w", path, err)
		}
		// stale: nobody listens any more; the rename below replaces it
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	os.Remove(tmp)
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("stats socket %s: %w", path, err)
	}
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, mode.Perm()); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("stats socket %s: %w", path, err)
	}
	if o.UID != -1 || o.GID != -1 {
		if err := os.Lchown(tmp, o.UID, o.GID); err != nil {
			ul.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("stats socket %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		ul.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("stats socket %s: %w", path, err)
	}
	abs, _ := filepath.Abs(path)
	fi, _ := os.Lstat(abs)
	return &unixListener{UnixListener: ul, path: abs, fi: fi}, nil
}

// unixListener removes its socket file on Close (the net package would
// remove the temporary name it was bound under).
type unixListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo // the file we created, to leave a successor's alone
	once sync.Once
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		// only our own file: another process may have replaced it since
		if fi, e := os.Lstat(l.path); e == nil && l.fi != nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}

// Addr reports the socket's real path.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }
