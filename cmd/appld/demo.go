package main

import (
	"fmt"
	"net"
	"net/http"
)

// demoBackends are the two HTTP servers the embedded default configuration balances
// over, so that `appld` alone shows the rotation with curl.
var demoBackends = []string{"127.0.0.1:18081", "127.0.0.1:18082"}

func startDemoBackends() ([]net.Listener, error) {
	var ls []net.Listener
	for i, addr := range demoBackends {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, fmt.Errorf("demo backend %d: %w", i+1, err)
		}
		name := fmt.Sprintf("demo%d", i+1)
		go func() {
			_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "hello from appl demo backend %s (%s)\n", name, addr)
			}))
		}()
		ls = append(ls, l)
	}
	return ls, nil
}
