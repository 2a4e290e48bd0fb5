package sysctl

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RaiseNofile raises this process's RLIMIT_NOFILE soft limit to at least n, raising the
// hard limit too when needed (root only, and never above fs.nr_open). It returns the soft
// limit now in force; the error says why n could not be reached (the limit is then raised
// as far as allowed). It never lowers a limit.
func RaiseNofile(n uint64) (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit nofile: %w", err)
	}
	if lim.Cur >= n {
		return lim.Cur, nil
	}
	if lim.Max >= n {
		lim.Cur = n
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return lim.Cur, fmt.Errorf("setrlimit nofile %d: %w", n, err)
		}
		return n, nil
	}
	want := n
	var why error
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if nr, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && want > nr {
			want = nr
			why = fmt.Errorf("nofile %d is above fs.nr_open %d (raise fs.nr_open first)", n, nr)
		}
	}
	if want > lim.Max {
		try := unix.Rlimit{Cur: want, Max: want}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &try); err == nil {
			return want, why
		} else if why == nil {
			why = fmt.Errorf("raise hard nofile limit %d -> %d: %w", lim.Max, want, err)
		}
	}
	// Fall back to the hard limit we have.
	old := lim.Cur
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return old, fmt.Errorf("setrlimit nofile %d: %w", lim.Max, err)
	}
	return lim.Cur, why
}

// SetNofile sets this process's RLIMIT_NOFILE soft limit to exactly n (global
// `ulimit-n`, which HAProxy applies as given, lower or higher), raising the hard
// limit when n is above it (root only).
func SetNofile(n uint64) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit nofile: %w", err)
	}
	lim.Cur = n
	lim.Max = max(lim.Max, n)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("ulimit-n %d: %w", n, err)
	}
	return nil
}
