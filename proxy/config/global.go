package config

import (
	"strconv"
	"strings"

	"appl/internal/cfgfile"
)

func (d *decoder) global(s *cfgfile.Section) {
	g := &d.cfg.Global
	for _, l := range s.Lines {
		kw := l.Keyword()
		args := l.Words[1:]
		switch kw {
		case "maxconn":
			if n, ok := d.intArg(l, args, 0, 1<<30, "a connection count"); ok {
				g.MaxConn = n
			}
		case "daemon":
			d.noArgs(l, args)
			g.Daemon = true
			d.warnf(l, "ignored: appld stays in the foreground, as HAProxy does in systemd mode (-Ws); a service manager runs it")
		case "pidfile":
			if d.oneArg(l, args, "a file path") {
				g.PidFile = args[0]
			}
		case "user":
			if d.oneArg(l, args, "a user name") {
				g.User = args[0]
				d.warnf(l, "not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)")
			}
		case "group":
			if d.oneArg(l, args, "a group name") {
				g.Group = args[0]
				d.warnf(l, "not applied: appld keeps the privileges its VRRP sockets, VIPs, TPROXY and reloads need (see docs/configuration.md, Privileges)")
			}
		case "chroot":
			if d.oneArg(l, args, "a directory") {
				g.Chroot = args[0]
				d.warnf(l, "not applied: appld re-reads its configuration, certificates and map files on reload (see docs/configuration.md, Privileges)")
			}
		case "nbthread":
			if n, ok := d.intArg(l, args, 1, 4096, "a thread count"); ok {
				g.NbThread = n
			}
		case "nbproc":
			d.warnf(l, "ignored: appl runs one process with threads (use nbthread)")
		case "hard-stop-after":
			if len(args) != 1 {
				d.errorf(l, "needs one argument (expected a time such as 30s or 5m)")
				continue
			}
			if t, err := parseDuration(args[0]); err != nil {
				d.errorf(l, "%v (expected a time such as 30s or 5m)", err)
			} else {
				g.HardStopAfter = t
			}
		case "ulimit-n":
			if n, ok := d.intArg(l, args, 1, 1<<30, "a file descriptor count"); ok {
				g.UlimitN = n
			}
		case "tune.bufsize":
			if n, ok := d.sizeArg(l, args, 1024); ok {
				g.TuneBufSize = n
			}
		case "tune.maxrewrite":
			if n, ok := d.sizeArg(l, args, 0); ok {
				g.TuneMaxRewrite = n
			}
		case "log":
			if len(args) == 1 && args[0] == "global" {
				d.errorf(l, "`log global` is for proxies (expected log ADDRESS FACILITY [LEVEL [MINLEVEL]])")
				continue
			}
			if t, ok := d.logTarget(l, args); ok {
				g.Logs = append(g.Logs, t)
			}
		case "stats":
			d.globalStats(l, args)
		default:
			if d.globalTLS(l, kw, args) {
				continue
			}
			if isUnsupportedGlobal(kw) {
				d.unsupported(l, kw)
				continue
			}
			d.unknown(l, "global", keys(globalKeywords, globalTLSKeywords, Unsupported["global"]))
		}
	}
	if g.TuneMaxRewrite != 0 && g.TuneBufSize != 0 && g.TuneMaxRewrite >= g.TuneBufSize {
		d.errs = append(d.errs, &cfgfile.Error{Pos: s.Pos, Directive: "tune.maxrewrite", Msg: "must be smaller than tune.bufsize"})
	}
}

// unknown reports a word that is neither decoded nor a known HAProxy keyword.
func (d *decoder) unknown(l cfgfile.Line, where string, known []string) {
	if s := closest(l.Keyword(), known); s != "" {
		d.errorf(l, "unknown keyword in %s section (did you mean %q?)", where, s)
		return
	}
	d.errorf(l, "unknown keyword in %s section (expected a directive listed in docs/configuration.md)", where)
}

func (d *decoder) noArgs(l cfgfile.Line, args []string) {
	if len(args) > 0 {
		d.errorf(l, "takes no argument, got %q", strings.Join(args, " "))
	}
}

func (d *decoder) oneArg(l cfgfile.Line, args []string, expected string) bool {
	if len(args) != 1 {
		d.errorf(l, "needs exactly one argument (expected %s)", expected)
		return false
	}
	return true
}

func (d *decoder) intArg(l cfgfile.Line, args []string, lo, hi int, expected string) (int, bool) {
	if !d.oneArg(l, args, expected) {
		return 0, false
	}
	n, err := parseInt(args[0], lo, hi)
	if err != nil {
		d.errorf(l, "%v (expected %s)", err, expected)
		return 0, false
	}
	return n, true
}

func (d *decoder) sizeArg(l cfgfile.Line, args []string, lo int) (int, bool) {
	if !d.oneArg(l, args, "a size in bytes") {
		return 0, false
	}
	n, err := parseSize(args[0])
	if err == nil && n < lo {
		err = errorString("too small, minimum " + strconv.Itoa(lo))
	}
	if err != nil {
		d.errorf(l, "%v (expected a size in bytes, optionally with k, m or g)", err)
		return 0, false
	}
	return n, true
}

type errorString string

func (e errorString) Error() string { return string(e) }

func (d *decoder) globalStats(l cfgfile.Line, args []string) {
	if len(args) == 0 {
		d.errorf(l, "missing keyword (expected stats socket, stats timeout or stats maxconn)")
		return
	}
	switch args[0] {
	case "socket":
		if len(args) < 2 {
			d.errorf(l, "stats socket needs an address (expected a unix socket path or ADDR:PORT)")
			return
		}
		ss := StatsSocket{Pos: l.Pos, Address: args[1]}
		if _, err := splitAddr(args[1]); err != nil {
			d.errorf(l, "stats socket: %v (expected a unix socket path or ADDR:PORT)", err)
			return
		}
		for i := 2; i < len(args); i++ {
			opt := args[i]
			switch opt {
			case "mode", "level", "user", "group", "uid", "gid", "expose-fd", "name", "maxconn", "process", "thread", "severity-output":
				if i+1 >= len(args) {
					d.errorf(l, "stats socket option %q needs a value", opt)
					return
				}
				val := args[i+1]
				i++
				switch opt {
				case "user", "uid":
					ss.User = val
				case "group", "gid":
					ss.Group = val
				case "expose-fd", "name", "maxconn", "process", "thread", "severity-output":
					d.warnf(l, "stats socket option %q ignored", opt)
				case "mode":
					m, err := strconv.ParseUint(val, 8, 32)
					if err != nil {
						d.errorf(l, "stats socket mode %q is not an octal file mode (expected e.g. 600)", val)
						return
					}
					ss.Mode = uint32(m)
				case "level":
					if val != "admin" && val != "operator" && val != "user" {
						d.errorf(l, "stats socket level %q (expected admin, operator or user)", val)
						return
					}
					ss.Level = val
				}
			case "accept-proxy", "transparent", "v4v6", "v6only":
			default:
				if s := closest(opt, []string{"mode", "level", "user", "group", "uid", "gid", "expose-fd", "name", "maxconn"}); s != "" {
					d.errorf(l, "unknown stats socket option %q (did you mean %q?)", opt, s)
				} else {
					d.errorf(l, "unknown stats socket option %q (expected mode, level, user, group, expose-fd)", opt)
				}
				return
			}
		}
		if ss.Level == "" {
			ss.Level = "operator" // HAProxy's default
		}
		d.cfg.Global.StatsSockets = append(d.cfg.Global.StatsSockets, ss)
	case "timeout":
		if !d.oneArg(l, args[1:], "a time, e.g. 30s") {
			return
		}
		t, err := parseDuration(args[1])
		if err != nil || t <= 0 {
			d.errorf(l, "stats timeout %q is not a positive time (expected e.g. 30s or 2m)", args[1])
			return
		}
		d.cfg.Global.StatsTimeout = t
	case "maxconn":
		if !d.oneArg(l, args[1:], "a number of connections") {
			return
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n <= 0 {
			d.errorf(l, "stats maxconn %q is not a positive number", args[1])
			return
		}
		d.cfg.Global.StatsMaxConn = n
	case "bind-process":
		d.unsupported(l, "global stats "+args[0])
	default:
		d.errorf(l, "unknown stats keyword %q in global section (expected socket, timeout or maxconn)", args[0])
	}
}

var facilities = set("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7")

var levels = set("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

// logTarget decodes `log ADDRESS [len N] [format F] [sample R:S] FACILITY [LEVEL [MINLEVEL]]`.
func (d *decoder) logTarget(l cfgfile.Line, args []string) (LogTarget, bool) {
	t := LogTarget{Pos: l.Pos, Format: "rfc3164"}
	if len(args) == 0 {
		d.errorf(l, "missing address (expected log ADDRESS FACILITY [LEVEL [MINLEVEL]] or log global)")
		return t, false
	}
	addr := args[0]
	switch {
	case addr == "stdout" || addr == "stderr":
		t.Address = addr
	case addr == "fd@1":
		t.Address = "stdout"
	case addr == "fd@2":
		t.Address = "stderr"
	case strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "unix@"):
		t.Address = "unix:" + strings.TrimPrefix(addr, "unix@")
	case strings.HasPrefix(addr, "ring@"):
		d.unsupported(l, "log to a ring buffer")
		return t, false
	default:
		a := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(addr, "udp@"), "ipv4@"), "ipv6@")
		if strings.Contains(a, "@") {
			d.errorf(l, "unsupported log address %q (expected stdout, stderr, a unix socket path or HOST[:PORT] for UDP syslog)", addr)
			return t, false
		}
		hp, err := splitAddr(a)
		if err != nil || hp.host == "" {
			d.errorf(l, "bad log address %q (expected stdout, stderr, a unix socket path or HOST[:PORT])", addr)
			return t, false
		}
		port := "514"
		if hp.hasPort && hp.port != "" {
			if _, err := parseInt(hp.port, 1, 65535); err != nil {
				d.errorf(l, "bad log port %q (expected 1..65535)", hp.port)
				return t, false
			}
			port = hp.port
		}
		host := hp.host
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		t.Address = "udp:" + host + ":" + port
	}
	rest := args[1:]
	for len(rest) > 0 {
		switch rest[0] {
		case "format":
			if len(rest) < 2 {
				d.errorf(l, "format needs a value (expected rfc3164, rfc5424, raw, short, iso, timed, local or priority)")
				return t, false
			}
			switch rest[1] {
			case "rfc3164", "rfc5424", "raw", "short", "iso", "timed", "local", "priority":
				t.Format = rest[1]
			default:
				d.errorf(l, "unknown log format %q (expected rfc3164, rfc5424, raw, short, iso, timed, local or priority)", rest[1])
				return t, false
			}
			rest = rest[2:]
			continue
		case "len", "sample", "profile":
			if len(rest) < 2 {
				d.errorf(l, "%s needs a value", rest[0])
				return t, false
			}
			d.warnf(l, "unsupported directive (appl does not implement log %s yet; see docs/compatibility.md)", rest[0])
			rest = rest[2:]
			continue
		}
		break
	}
	if len(rest) == 0 {
		d.errorf(l, "missing facility (expected one of local0..local7, daemon, user, ...)")
		return t, false
	}
	if !facilities[rest[0]] {
		d.errorf(l, "unknown facility %q (expected one of local0..local7, daemon, user, kern, mail, auth, syslog, ...)", rest[0])
		return t, false
	}
	t.Facility = rest[0]
	if len(rest) > 1 {
		if !levels[rest[1]] {
			d.errorf(l, "unknown level %q (expected emerg, alert, crit, err, warning, notice, info or debug)", rest[1])
			return t, false
		}
		t.Level = rest[1]
	}
	if len(rest) > 2 {
		if !levels[rest[2]] {
			d.errorf(l, "unknown minimum level %q (expected emerg, alert, crit, err, warning, notice, info or debug)", rest[2])
			return t, false
		}
		t.MinLevel = rest[2]
	}
	if len(rest) > 3 {
		d.errorf(l, "too many arguments %q (expected log ADDRESS FACILITY [LEVEL [MINLEVEL]])", strings.Join(rest[3:], " "))
		return t, false
	}
	return t, true
}
