package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"appl/internal/testbed"
)

// echoBackend answers each connection with its name and then closes.
func echoBackend(t *testing.T, name string) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.WriteString(c, name+"\n")
			}()
		}
	}()
	return l.Addr().String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startLocalAppld(t *testing.T, path string) (*exec.Cmd, *testbed.SafeBuffer) {
	t.Helper()
	out := &testbed.SafeBuffer{}
	// Each appld gets its own admin socket: tests never touch /run/appl.
	cmd := exec.Command(appldBinary(t), "-f", path, "--admin-socket", filepath.Join(filepath.Dir(path), "admin.sock"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("appld output:\n%s", out.String())
		}
	})
	return cmd, out
}

func ask(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// Ten SIGHUP reloads (alternating backends) under a bounded load: no connection fails, the
// new configuration takes effect, and an invalid file is refused while the old one serves.
func TestSeamlessReloadUnderLoad(t *testing.T) {
	a, b := echoBackend(t, "A"), echoBackend(t, "B")
	front := freePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	write := func(server string) {
		cfg := fmt.Sprintf("defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\nlisten l\n  bind %s\n  server s %s\n", front, server)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a)
	cmd, out := startLocalAppld(t, path)
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving", func() bool {
		s, err := ask(front)
		return err == nil && s == "A"
	})

	var ok, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ask(front); err != nil {
					failed.Add(1)
					lastErr.Store(err.Error())
				} else {
					ok.Add(1)
				}
			}
		}()
	}
	want := "A"
	for i := 0; i < 10; i++ {
		if want == "A" {
			want = "B"
			write(b)
		} else {
			want = "A"
			write(a)
		}
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testbed.Eventually(t, 10*time.Second, 10*time.Millisecond, "reload to "+want, func() bool {
			s, err := ask(front)
			return err == nil && s == want
		})
	}
	// An invalid file is refused; the running configuration keeps serving.
	if err := os.WriteFile(path, []byte("listen l\n  bind "+front+"\n  server s 127.0.0.1:1 weight 9999\n  nonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGHUP)
	testbed.Eventually(t, 10*time.Second, 10*time.Millisecond, "the refusal logged", func() bool {
		return strings.Contains(out.String(), "reload refused")
	})
	if s, err := ask(front); err != nil || s != want {
		t.Fatalf("after a refused reload: %q %v", s, err)
	}
	close(stop)
	wg.Wait()
	t.Logf("reloads: 10, connections ok: %d, failed: %d", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d connections failed during reloads (last: %v)", failed.Load(), lastErr.Load())
	}
	if ok.Load() < 100 {
		t.Fatalf("load loop too small to mean anything: %d", ok.Load())
	}
}
