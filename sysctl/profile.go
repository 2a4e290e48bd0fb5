package sysctl

import (
	"fmt"
	"strconv"
)

// Want is one desired key and value, with where it comes from.
type Want struct {
	Key   string
	Value string // fields separated by one space
	// AtLeast marks limits: a live value already higher is kept (systemd sets
	// fs.file-max to LONG_MAX; lowering it would be a regression, not tuning).
	AtLeast   bool
	Unchecked bool
	Source    string // "profile loadbalancer" or "file:line"
}

// Memory is what the profile scales with.
type Memory struct {
	Bytes    uint64 // total RAM
	PageSize uint64
}

// loadbalancer returns seed 000's list plus seed 001's TPROXY keys. The seed's absolute
// values were written for a big box; the ones that cost memory are scaled to mem and
// capped at the seed's value so a 1 GiB box never gets tcp_mem of 900 million pages.
func loadbalancer(mem Memory) []Want {
	pages := mem.Bytes / mem.PageSize
	clamp := func(v, lo, hi uint64) uint64 { return max(lo, min(v, hi)) }
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	// One open file costs about 1 KiB of kernel memory: allow one per page (1/4 of RAM).
	fileMax := clamp(pages, 1<<20, 100428000)
	nrOpen := clamp(pages, 1<<20, 100328000)
	// Per-socket buffer ceilings: at most 1/64 of RAM for one socket.
	rmemMax := clamp(mem.Bytes/64, 4<<20, 50331648)
	wmemMax := clamp(mem.Bytes/64, 4<<20, 33554432)
	// tcp_mem is in pages: pressure at 3/8 of RAM, hard limit at 1/2.
	tcpMem := fmt.Sprintf("%d %d %d", pages/16, pages*3/8, pages/2)
	const src = "profile loadbalancer"
	w := func(k, v string) Want { return Want{Key: k, Value: v, Source: src} }
	atLeast := func(k string, v uint64) Want { return Want{Key: k, Value: u(v), AtLeast: true, Source: src} }
	return []Want{
		atLeast("fs.file-max", fileMax),
		atLeast("fs.nr_open", nrOpen),
		atLeast("kernel.shmall", pages),
		atLeast("kernel.shmmax", mem.Bytes),
		atLeast("kernel.msgmax", 65536),
		// One backlog slot per 64 KiB of RAM (a queued packet is ~2 KiB, per CPU).
		atLeast("net.core.netdev_max_backlog", clamp(mem.Bytes/65536, 1000, 2000000)),
		w("net.core.rmem_default", u(min(699040, rmemMax))),
		atLeast("net.core.rmem_max", rmemMax),
		w("net.core.wmem_default", u(min(131072, wmemMax))),
		atLeast("net.core.wmem_max", wmemMax),
		atLeast("net.core.somaxconn", 65535),
		w("net.ipv4.ip_local_port_range", "15000 65000"),
		w("net.ipv4.ip_nonlocal_bind", "1"),
		w("net.ipv4.tcp_fin_timeout", "7"),
		w("net.ipv4.tcp_keepalive_time", "300"),
		// An orphan can pin ~64 KiB of unswappable memory.
		atLeast("net.ipv4.tcp_max_orphans", clamp(mem.Bytes/65536, 4096, 3276800)),
		atLeast("net.ipv4.tcp_max_syn_backlog", 655360),
		// A TIME-WAIT socket is ~200 bytes: at most ~5% of RAM.
		atLeast("net.ipv4.tcp_max_tw_buckets", clamp(mem.Bytes/4096, 65536, 6000000)),
		w("net.ipv4.tcp_mem", tcpMem),
		w("net.ipv4.tcp_rmem", fmt.Sprintf("32768 %d %d", min(699040, rmemMax), rmemMax)),
		w("net.ipv4.tcp_wmem", fmt.Sprintf("32768 %d %d", min(131072, wmemMax), wmemMax)),
		w("net.ipv4.tcp_slow_start_after_idle", "0"),
		w("net.ipv4.tcp_synack_retries", "2"),
		w("net.ipv4.tcp_syncookies", "1"),
		w("net.ipv4.tcp_syn_retries", "2"),
		w("net.ipv4.tcp_tw_recycle", "0"),
		w("net.ipv4.tcp_tw_reuse", "1"),
		w("net.ipv4.tcp_window_scaling", "1"),
		w("vm.swappiness", "0"),
		// Seed 001 (TPROXY).
		w("net.ipv4.ip_forward", "1"),
		w("net.ipv4.conf.all.send_redirects", "0"),
		w("net.ipv4.conf.default.send_redirects", "0"),
	}
}

// DefaultNofile is the open-files limit appld raises itself to when the config has none.
const DefaultNofile = 1 << 20

// Wants resolves cfg into the desired keys: the profile first, then the `set` lines,
// each replacing an earlier value of the same key.
func Wants(cfg *Config, mem Memory) []Want {
	var out []Want
	index := map[string]int{}
	add := func(w Want) {
		if i, ok := index[w.Key]; ok {
			out[i] = w
			return
		}
		index[w.Key] = len(out)
		out = append(out, w)
	}
	if cfg.Profile == "loadbalancer" {
		for _, w := range loadbalancer(mem) {
			add(w)
		}
	}
	for _, s := range cfg.Sets {
		add(Want{Key: s.Key, Value: s.Value, Unchecked: s.Unchecked, Source: s.Pos.String()})
	}
	return out
}

// NofileLimit is the RLIMIT_NOFILE appld should raise itself to (RaiseNofile).
func (c *Config) NofileLimit() uint64 {
	if c.Nofile != 0 {
		return c.Nofile
	}
	return DefaultNofile
}
