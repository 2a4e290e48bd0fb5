package config

import (
	"strings"
	"testing"
)

// `bind ... proto h2` is served (HTTP/2 with prior knowledge) and kept in the bind's
// options; other protocols are still warned as not implemented.
func TestBindProtoH2(t *testing.T) {
	cfg, err := decodeString(t, "frontend f\n mode http\n bind :8080 proto h2\n bind :8081 proto quic\n default_backend b\nbackend b\n mode http\n server s 127.0.0.1:1\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Frontends[0].Binds[0].Options["proto"]; got != "h2" {
		t.Errorf("proto kept as %q", got)
	}
	warned := map[int]bool{}
	for _, w := range cfg.Warnings {
		if strings.Contains(w.Error(), "bind proto") {
			warned[3] = warned[3] || strings.Contains(w.Error(), "t.cfg:3:")
			warned[4] = warned[4] || strings.Contains(w.Error(), "t.cfg:4:")
		}
	}
	if warned[3] || !warned[4] {
		t.Errorf("warnings %v", cfg.Warnings)
	}
}
