package sysctl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Namespace names the kernel namespace a key belongs to ("" for global keys).
type Namespace string

const (
	NSGlobal Namespace = ""
	NSNet    Namespace = "net" // written in the caller's network namespace
	NSIPC    Namespace = "ipc" // kernel.shm*, kernel.msg*, kernel.sem: per IPC namespace
)

// keySpec describes a key appl can validate: how many integer fields, their range, the
// namespace, and whether the kernel dropped it.
type keySpec struct {
	fields   int
	min, max int64
	ns       Namespace
	ordered  bool   // fields must not decrease (min <= default <= max, low <= high)
	removed  string // non-empty: kernel version that removed the key
	note     string
}

const (
	intMax  = math.MaxInt32
	longMax = math.MaxInt64
)

// keys are the keys appl knows. Per-namespace flags follow recent kernels (6.x): on older
// kernels some net.core keys are global and are then reported missing inside a namespace.
var keys = map[string]keySpec{
	"fs.file-max":          {fields: 1, min: 0, max: longMax},
	"fs.nr_open":           {fields: 1, min: 64, max: 2147483584},
	"kernel.shmall":        {fields: 1, min: 0, max: longMax, ns: NSIPC},
	"kernel.shmmax":        {fields: 1, min: 0, max: longMax, ns: NSIPC},
	"kernel.shmmni":        {fields: 1, min: 1, max: 1 << 15, ns: NSIPC},
	"kernel.msgmax":        {fields: 1, min: 0, max: intMax, ns: NSIPC},
	"kernel.msgmnb":        {fields: 1, min: 0, max: intMax, ns: NSIPC},
	"kernel.sem":           {fields: 4, min: 0, max: intMax, ns: NSIPC},
	"kernel.sysrq":         {fields: 1, min: 0, max: 511},
	"kernel.pid_max":       {fields: 1, min: 301, max: 4194304},
	"vm.swappiness":        {fields: 1, min: 0, max: 200},
	"vm.overcommit_memory": {fields: 1, min: 0, max: 2},
	"vm.min_free_kbytes":   {fields: 1, min: 0, max: intMax},

	"net.core.netdev_max_backlog": {fields: 1, min: 1, max: intMax},
	"net.core.rmem_default":       {fields: 1, min: 0, max: intMax, ns: NSNet},
	"net.core.rmem_max":           {fields: 1, min: 0, max: intMax, ns: NSNet},
	"net.core.wmem_default":       {fields: 1, min: 0, max: intMax, ns: NSNet},
	"net.core.wmem_max":           {fields: 1, min: 0, max: intMax, ns: NSNet},
	"net.core.somaxconn":          {fields: 1, min: 0, max: intMax, ns: NSNet},
	"net.core.optmem_max":         {fields: 1, min: 0, max: intMax, ns: NSNet},

	"net.ipv4.ip_forward":                {fields: 1, min: 0, max: 1, ns: NSNet},
	"net.ipv4.ip_local_port_range":       {fields: 2, min: 1, max: 65535, ns: NSNet, ordered: true},
	"net.ipv4.ip_nonlocal_bind":          {fields: 1, min: 0, max: 1, ns: NSNet},
	"net.ipv4.ip_no_pmtu_disc":           {fields: 1, min: 0, max: 3, ns: NSNet},
	"net.ipv4.tcp_fin_timeout":           {fields: 1, min: 1, max: 3600, ns: NSNet},
	"net.ipv4.tcp_keepalive_time":        {fields: 1, min: 1, max: 32767, ns: NSNet},
	"net.ipv4.tcp_keepalive_intvl":       {fields: 1, min: 1, max: 32767, ns: NSNet},
	"net.ipv4.tcp_keepalive_probes":      {fields: 1, min: 1, max: 127, ns: NSNet},
	"net.ipv4.tcp_max_orphans":           {fields: 1, min: 0, max: intMax},
	"net.ipv4.tcp_max_syn_backlog":       {fields: 1, min: 0, max: intMax, ns: NSNet},
	"net.ipv4.tcp_max_tw_buckets":        {fields: 1, min: 0, max: intMax, ns: NSNet},
	"net.ipv4.tcp_mem":                   {fields: 3, min: 0, max: longMax, ordered: true, note: "in pages"},
	"net.ipv4.tcp_rmem":                  {fields: 3, min: 1, max: intMax, ns: NSNet, ordered: true},
	"net.ipv4.tcp_wmem":                  {fields: 3, min: 1, max: intMax, ns: NSNet, ordered: true},
	"net.ipv4.tcp_slow_start_after_idle": {fields: 1, min: 0, max: 1, ns: NSNet},
	"net.ipv4.tcp_synack_retries":        {fields: 1, min: 0, max: 255, ns: NSNet},
	"net.ipv4.tcp_syncookies":            {fields: 1, min: 0, max: 2, ns: NSNet},
	"net.ipv4.tcp_syn_retries":           {fields: 1, min: 1, max: 127, ns: NSNet},
	"net.ipv4.tcp_tw_recycle":            {fields: 1, min: 0, max: 1, ns: NSNet, removed: "4.12"},
	"net.ipv4.tcp_tw_reuse":              {fields: 1, min: 0, max: 2, ns: NSNet},
	"net.ipv4.tcp_window_scaling":        {fields: 1, min: 0, max: 1, ns: NSNet},
	"net.ipv4.tcp_timestamps":            {fields: 1, min: 0, max: 2, ns: NSNet},
	"net.ipv4.tcp_sack":                  {fields: 1, min: 0, max: 1, ns: NSNet},
	"net.ipv4.tcp_fastopen":              {fields: 1, min: 0, max: 0x7ff, ns: NSNet},
	"net.ipv4.tcp_notsent_lowat":         {fields: 1, min: 0, max: math.MaxUint32, ns: NSNet},
	"net.ipv4.tcp_fwmark_accept":         {fields: 1, min: 0, max: 1, ns: NSNet},
	"net.ipv6.ip_nonlocal_bind":          {fields: 1, min: 0, max: 1, ns: NSNet},
	"net.ipv6.conf.all.forwarding":       {fields: 1, min: 0, max: 1, ns: NSNet},
}

// confKeys are the per-interface keys under net.ipv4.conf.IF.* and net.ipv6.conf.IF.*, IF
// being all, default or an interface name (dots in it written as '/', as sysctl(8) does).
var confKeys = map[string]map[string]keySpec{
	"ipv4": {
		"send_redirects":      {fields: 1, min: 0, max: 1, ns: NSNet},
		"accept_redirects":    {fields: 1, min: 0, max: 1, ns: NSNet},
		"secure_redirects":    {fields: 1, min: 0, max: 1, ns: NSNet},
		"accept_source_route": {fields: 1, min: 0, max: 1, ns: NSNet},
		"rp_filter":           {fields: 1, min: 0, max: 2, ns: NSNet},
		"forwarding":          {fields: 1, min: 0, max: 1, ns: NSNet},
		"proxy_arp":           {fields: 1, min: 0, max: 1, ns: NSNet},
		"arp_ignore":          {fields: 1, min: 0, max: 8, ns: NSNet},
		"arp_announce":        {fields: 1, min: 0, max: 2, ns: NSNet},
		"arp_filter":          {fields: 1, min: 0, max: 1, ns: NSNet},
		"accept_local":        {fields: 1, min: 0, max: 1, ns: NSNet},
		"route_localnet":      {fields: 1, min: 0, max: 1, ns: NSNet},
		"log_martians":        {fields: 1, min: 0, max: 1, ns: NSNet},
	},
	"ipv6": {
		"forwarding":       {fields: 1, min: 0, max: 1, ns: NSNet},
		"disable_ipv6":     {fields: 1, min: 0, max: 1, ns: NSNet},
		"accept_ra":        {fields: 1, min: 0, max: 2, ns: NSNet},
		"accept_dad":       {fields: 1, min: -1, max: 2, ns: NSNet},
		"autoconf":         {fields: 1, min: 0, max: 1, ns: NSNet},
		"accept_redirects": {fields: 1, min: 0, max: 1, ns: NSNet},
	},
}

// lookupKey finds the spec of a key, including per-interface conf keys.
func lookupKey(key string) (keySpec, bool) {
	if s, ok := keys[key]; ok {
		return s, true
	}
	for fam, m := range confKeys {
		prefix := "net." + fam + ".conf."
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			ifname, leaf, ok := strings.Cut(rest, ".")
			if !ok || ifname == "" || len(ifname) > 15 || !safeComponents(key) {
				return keySpec{}, false
			}
			s, ok := m[leaf]
			return s, ok
		}
	}
	return keySpec{}, false
}

// KnownKey reports whether appl can validate key, and its namespace.
func KnownKey(key string) (Namespace, bool) {
	s, ok := lookupKey(key)
	return s.ns, ok
}

// normalize parses and range-checks a value for key, returning it with fields separated
// by one space. The error names the key and what would be valid.
func normalize(key, value string) (string, error) {
	s, ok := lookupKey(key)
	if !ok {
		return "", fmt.Errorf("unknown key %q (expected a key appl knows, e.g. %s; use set-unchecked for others)", key, suggest(key))
	}
	fields := strings.Fields(value)
	if len(fields) != s.fields {
		return "", fmt.Errorf("%s takes %d integer value(s), got %d in %q", key, s.fields, len(fields), value)
	}
	nums := make([]int64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%s: %q is not an integer", key, f)
		}
		if n < s.min || n > s.max {
			return "", fmt.Errorf("%s: value %d out of range (expected %d..%d)", key, n, s.min, s.max)
		}
		if s.ordered && i > 0 && n < nums[i-1] {
			return "", fmt.Errorf("%s: values %q must not decrease (expected low <= ... <= high)", key, value)
		}
		nums[i] = n
		fields[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(fields, " "), nil
}

// suggest returns the known key closest to key (by edit distance) for error messages.
func suggest(key string) string {
	best, bestD := "net.ipv4.tcp_fin_timeout", 1<<30
	for k := range keys {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// safeComponents reports whether every component of key names a file below the root
// (none is empty, "." or ".." once '/' stands for '.').
func safeComponents(key string) bool {
	for _, p := range strings.Split(key, ".") {
		p = strings.ReplaceAll(p, "/", ".")
		if p == "" || p == "." || p == ".." {
			return false
		}
	}
	return true
}

// keyPath maps a dotted key to its file under root. A '/' inside a component stands for a
// '.' in the file name (interface names such as eth0.100), as in sysctl(8).
func keyPath(root, key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, "/", ".")
	}
	return root + "/" + strings.Join(parts, "/")
}
