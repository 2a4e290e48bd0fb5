// Command backend is the HTTP server behind the proxies in bench/run.sh: it
// answers GET / with a tiny body as fast as net/http allows, and GET /64k
// with 64 KiB (for an L7 scenario). It is a load target, not part of appl.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()

	small := []byte("ok\n")
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	serve := func(body []byte) http.HandlerFunc {
		n := strconv.Itoa(len(body))
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"text/plain"}
			h["Content-Length"] = []string{n}
			w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/64k", serve(big))
	mux.Handle("/", serve(small))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ErrorLog: log.New(discard{}, "", 0)}
	log.Fatal(srv.Serve(ln))
}

// discard drops net/http's per-connection error log lines ("broken pipe"
// when wrk stops), which would only be noise in a benchmark.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
