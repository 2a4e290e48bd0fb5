package cfgfile

import (
	"fmt"
	"strconv"
	"time"
)

// ParseTime reads HAProxy's time syntax: a decimal integer with an optional unit us, ms,
// s, m, h or d; a bare number is in milliseconds. Values beyond a year are refused (HAProxy
// itself caps timers near 24.8 days; callers apply their own limits).
func ParseTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("bad time %q (expected a number with an optional unit us, ms, s, m, h or d)", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("time %q too large", s)
	}
	var unit time.Duration
	switch s[i:] {
	case "", "ms":
		unit = time.Millisecond
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("bad time unit in %q", s)
	}
	if n > int64(365*24*time.Hour/unit) {
		return 0, fmt.Errorf("time %q too large", s)
	}
	return time.Duration(n) * unit, nil
}
