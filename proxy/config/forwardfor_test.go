package config

import (
	"slices"
	"testing"
)

// The words of `option forwardfor` reach the model (the http engine reads them), from
// defaults as from the section itself, and a negated option carries none.
func TestForwardForArgsKept(t *testing.T) {
	cfg, err := decodeString(t, "defaults\n mode http\n option forwardfor except 127.0.0.0/8 header X-Real-IP if-none\n"+
		"frontend f\n bind 127.0.0.1:80\n default_backend b\n"+
		"backend b\n option forwardfor header X-Client\n server s 127.0.0.1:81\n"+
		"backend c\n no option forwardfor\n server s 127.0.0.1:81\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Frontends[0].ForwardFor; !slices.Equal(got, []string{"except", "127.0.0.0/8", "header", "X-Real-IP", "if-none"}) {
		t.Fatalf("frontend forwardfor args %q", got)
	}
	if got := cfg.Backend("b").ForwardFor; !slices.Equal(got, []string{"header", "X-Client"}) {
		t.Fatalf("backend forwardfor args %q", got)
	}
	if got := cfg.Backend("c").ForwardFor; got != nil {
		t.Fatalf("negated forwardfor kept args %q", got)
	}
}
