package vrrp

import (
	"os"
	"testing"
)

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/vrrp.md")
	if err != nil {
		t.Fatalf("docs/vrrp.md: %v", err)
	}
	return string(b)
}
