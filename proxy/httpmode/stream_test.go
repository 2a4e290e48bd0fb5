package httpmode

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vmRSS returns the process's resident set size in bytes.
func vmRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// zeroReader yields n zero bytes without holding them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// TestStream1GiB sends 1 GiB up (Content-Length) and 1 GiB down (Content-Length, then
// chunked) through the proxy and checks that memory stays flat: the engine streams and
// never holds a body.
func TestStream1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB transfers skipped in -short mode")
	}
	const size = 1 << 30
	b := newNamedBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			n, err := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d %v", n, err)
		case "/down":
			w.Header().Set("Content-Length", strconv.Itoa(size))
			io.Copy(w, &zeroReader{n: size})
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.Copy(w, &zeroReader{n: size})
		}
	})
	h := newHarness(t, loadConfig(t, oneBackendConfig(b.hostPort(), "", "")), "fe", Options{})
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	rss0 := vmRSS(t)

	c := dialClient(t, h.addr())
	c.c.SetDeadline(time.Now().Add(120 * time.Second))
	start := time.Now()
	fmt.Fprintf(c.c, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", size)
	bw := bufio.NewWriterSize(c.c, 64<<10)
	if _, err := io.Copy(bw, &zeroReader{n: size}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	bw.Flush()
	resp, body := readResponse(t, c.br, "POST")
	if resp.StatusCode != 200 || body != fmt.Sprintf("%d <nil>", size) {
		t.Fatalf("upload: %d %q", resp.StatusCode, body)
	}
	up := time.Since(start)

	for _, path := range []string{"/down", "/chunked"} {
		start = time.Now()
		io.WriteString(c.c, get(path))
		resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != size {
			t.Fatalf("download %s: %d bytes, %v", path, n, err)
		}
		if path == "/chunked" && len(resp.TransferEncoding) == 0 {
			t.Fatalf("download %s was not chunked", path)
		}
		t.Logf("download %s: 1 GiB in %v (%.0f MiB/s)", path, time.Since(start), 1024/time.Since(start).Seconds())
	}
	t.Logf("upload: 1 GiB in %v (%.0f MiB/s)", up, 1024/up.Seconds())

	runtime.GC()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	rss1 := vmRSS(t)
	t.Logf("heap in use %d -> %d KiB, RSS %d -> %d KiB", ms0.HeapInuse>>10, ms1.HeapInuse>>10, rss0>>10, rss1>>10)
	if d := int64(ms1.HeapInuse) - int64(ms0.HeapInuse); d > 32<<20 {
		t.Fatalf("heap grew by %d MiB over 3 GiB of bodies", d>>20)
	}
	if d := rss1 - rss0; d > 64<<20 {
		t.Fatalf("RSS grew by %d MiB over 3 GiB of bodies", d>>20)
	}
	if ms1.TotalAlloc-ms0.TotalAlloc > 256<<20 {
		t.Fatalf("allocated %d MiB in total over 3 GiB of bodies", (ms1.TotalAlloc-ms0.TotalAlloc)>>20)
	}
}
