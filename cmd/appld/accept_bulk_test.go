package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"appl/internal/testbed"
)

const (
	bulkSize     = 1 << 30  // bytes each way
	bulkRSSBound = 64 << 20 // allowed growth of appld's peak RSS over a transfer
	bulkTimeout  = 60 * time.Second
)

// procMem reads VmRSS and VmHWM (bytes) of pid from /proc.
func procMem(t *testing.T, pid int) (rss, hwm int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	if rss == 0 || hwm == 0 {
		t.Fatalf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return rss, hwm
}

// sampleRSS samples pid's VmRSS every 20 ms until stop is closed, and returns the
// largest value seen (a peak the transfer reached, independent of an older VmHWM).
func sampleRSS(t *testing.T, pid int, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
						kb, _ := strconv.ParseInt(f[1], 10, 64)
						peak = max(peak, kb<<10)
					}
				}
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-tk.C:
			}
		}
	}()
	return out
}

// zeroReader yields n zero bytes without allocating them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// A 1 GiB streamed upload (chunked, as a client that does not know the length sends it)
// and a 1 GiB download (Content-Length) through appld in mode http: every byte arrives,
// and appld's peak RSS (VmHWM) grows by less than 64 MiB over each, so bodies are
// streamed, never buffered whole.
func TestBulkUploadDownloadFlatRSSThroughAppld(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 1 GiB upload and download through appld")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			n, err := io.CopyBuffer(io.Discard, r.Body, make([]byte, 256<<10))
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d", n)
		case "/down":
			w.Header().Set("Content-Length", strconv.Itoa(bulkSize))
			io.CopyBuffer(w, &zeroReader{n: bulkSize}, make([]byte, 256<<10))
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	front := freePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "appl.cfg")
	writeCfg(t, path, `defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
listen bulk
    bind `+front+`
    server s `+srv.Listener.Addr().String()+`
`)
	cmd, _ := startLocalAppld(t, path)
	pid := cmd.Process.Pid
	client := &http.Client{Timeout: bulkTimeout}
	testbed.Eventually(t, 10*time.Second, 20*time.Millisecond, "appld serving http", func() bool {
		code, _, _, err := httpGet(&http.Client{Timeout: time.Second}, "http://"+front+"/")
		return err == nil && code == 200
	})
	// Warm up (buffers, pools) with a few small requests on both paths.
	for i := 0; i < 5; i++ {
		if code, _, _, err := httpGet(client, "http://"+front+"/"); err != nil || code != 200 {
			t.Fatalf("warm-up: %d %v", code, err)
		}
	}

	t.Run("upload", func(t *testing.T) {
		rss0, hwm0 := procMem(t, pid)
		stop := make(chan struct{})
		peakc := sampleRSS(t, pid, stop)
		start := time.Now()
		// io.NopCloser hides the length: net/http sends the body chunked.
		resp, err := client.Post("http://"+front+"/up", "application/octet-stream", io.NopCloser(&zeroReader{n: bulkSize}))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != 200 || string(body) != strconv.Itoa(bulkSize) {
			t.Fatalf("upload: %d %q, want the server to count %d bytes", resp.StatusCode, body, bulkSize)
		}
		close(stop)
		peak := <-peakc
		rss1, hwm1 := procMem(t, pid)
		t.Logf("1 GiB upload in %v (%.0f MiB/s); appld VmRSS %d -> %d MiB (sampled peak %d MiB), VmHWM %d -> %d MiB",
			took.Round(10*time.Millisecond), float64(bulkSize>>20)/took.Seconds(), rss0>>20, rss1>>20, peak>>20, hwm0>>20, hwm1>>20)
		if g := peak - rss0; g > bulkRSSBound {
			t.Fatalf("appld's RSS grew by %d MiB during the upload (bound %d MiB)", g>>20, bulkRSSBound>>20)
		}
		if g := hwm1 - max(hwm0, rss0); g > bulkRSSBound {
			t.Fatalf("appld's peak RSS grew by %d MiB over the upload (bound %d MiB)", g>>20, bulkRSSBound>>20)
		}
	})

	t.Run("download", func(t *testing.T) {
		rss0, hwm0 := procMem(t, pid)
		stop := make(chan struct{})
		peakc := sampleRSS(t, pid, stop)
		start := time.Now()
		resp, err := client.Get("http://" + front + "/down")
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
		resp.Body.Close()
		took := time.Since(start)
		if err != nil || resp.StatusCode != 200 || n != bulkSize || resp.ContentLength != bulkSize {
			t.Fatalf("download: %d, %d bytes (Content-Length %d), %v", resp.StatusCode, n, resp.ContentLength, err)
		}
		close(stop)
		peak := <-peakc
		rss1, hwm1 := procMem(t, pid)
		t.Logf("1 GiB download in %v (%.0f MiB/s); appld VmRSS %d -> %d MiB (sampled peak %d MiB), VmHWM %d -> %d MiB",
			took.Round(10*time.Millisecond), float64(bulkSize>>20)/took.Seconds(), rss0>>20, rss1>>20, peak>>20, hwm0>>20, hwm1>>20)
		if g := peak - rss0; g > bulkRSSBound {
			t.Fatalf("appld's RSS grew by %d MiB during the download (bound %d MiB)", g>>20, bulkRSSBound>>20)
		}
		if g := hwm1 - max(hwm0, rss0); g > bulkRSSBound {
			t.Fatalf("appld's peak RSS grew by %d MiB over the download (bound %d MiB)", g>>20, bulkRSSBound>>20)
		}
	})
}
