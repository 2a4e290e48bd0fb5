package sysctl

import (
	"testing"

	"golang.org/x/sys/unix"
)

type rlimit = unix.Rlimit

func getNofile(t *testing.T) rlimit {
	t.Helper()
	var l rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func setNofile(t *testing.T, l rlimit) {
	t.Helper()
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
}
