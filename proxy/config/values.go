package config

import (
	"appl/internal/cfgfile"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads HAProxy's time syntax (see cfgfile.ParseTime).
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty time")
	}
	return cfgfile.ParseTime(s)
}

// parseInt reads a decimal integer within [lo, hi].
func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of range %d..%d", n, lo, hi)
	}
	return n, nil
}

// parseSize reads a byte count with an optional k/m/g suffix (HAProxy's size syntax).
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := parseInt(s, 0, 1<<30)
	if err != nil {
		return 0, err
	}
	if n > (1<<31)/mult {
		return 0, fmt.Errorf("size too large")
	}
	return n * mult, nil
}

// hostPort is an address as HAProxy writes it, split into its parts.
type hostPort struct {
	proto   string // "" or the prefix before '@' (ipv4, ipv6, unix, mptcp, ...)
	host    string // "" means any address
	port    string // "" when absent
	hasPort bool
}

// splitAddr splits ADDR[:PORT] the way HAProxy's str2sa_range does: an optional
// "proto@" prefix, "[v6]:port", and otherwise the port after the LAST colon, so that
// "1::1:80" is 1::1 port 80 and ":::80" is :: port 80 (HAProxy's rule, ambiguous by
// design: "::1" alone reads as host ":" port 1, which is why configs write [::1]).
func splitAddr(s string) (hostPort, error) {
	var hp hostPort
	if i := strings.IndexByte(s, '@'); i >= 0 {
		hp.proto, s = strings.ToLower(s[:i]), s[i+1:]
	}
	if hp.proto == "unix" || hp.proto == "abns" || (hp.proto == "" && strings.HasPrefix(s, "/")) {
		if hp.proto == "" {
			hp.proto = "unix"
		}
		hp.host = s
		return hp, nil
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hp, fmt.Errorf("missing ] in %q", s)
		}
		hp.host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return hp, fmt.Errorf("unexpected %q after ] in %q", rest, s)
			}
			hp.port, hp.hasPort = rest[1:], true
		}
		if _, err := netip.ParseAddr(hp.host); err != nil {
			return hp, fmt.Errorf("bad IPv6 address %q", hp.host)
		}
		return hp, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		hp.host, hp.port, hp.hasPort = s[:i], s[i+1:], true
	} else {
		hp.host = s
	}
	if hp.host == "*" {
		hp.host = ""
	}
	if hp.host != "" {
		if err := checkHost(hp.host); err != nil {
			return hp, err
		}
	}
	return hp, nil
}

// checkHost accepts an IP address or a DNS name (resolved later by the data plane).
func checkHost(h string) error {
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if strings.Contains(h, ":") {
		return fmt.Errorf("bad IPv6 address %q", h)
	}
	if strings.Trim(h, "0123456789.") == "" {
		return fmt.Errorf("bad host %q (expected an IP address or a host name)", h)
	}
	if len(h) > 253 {
		return fmt.Errorf("host name too long")
	}
	for _, c := range h {
		ok := c == '-' || c == '.' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return fmt.Errorf("bad host %q (expected an IP address or a host name)", h)
		}
	}
	return nil
}

// parsePortRange reads "N" or "N-M" with 1 <= N <= M <= 65535.
func parsePortRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err = parseInt(a, 1, 65535)
	if err != nil {
		return 0, 0, fmt.Errorf("bad port %q", s)
	}
	hi = lo
	if isRange {
		hi, err = parseInt(b, 1, 65535)
		if err != nil || hi < lo {
			return 0, 0, fmt.Errorf("bad port range %q (expected LOW-HIGH with LOW <= HIGH)", s)
		}
	}
	return lo, hi, nil
}

// levenshtein is the edit distance, used to suggest the keyword a typo meant.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// closest returns the candidate nearest to w when it is near enough to be a typo.
func closest(w string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := levenshtein(w, c); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(w) <= 4 {
		limit = 1
	}
	if bestD <= limit {
		return best
	}
	return ""
}
