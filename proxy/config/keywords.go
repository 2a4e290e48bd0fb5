package config

import (
	"sort"
	"strings"
)

// This file is the keyword inventory: what appl decodes, what HAProxy has and appl does
// not implement yet (a warning naming docs/compatibility.md), and therefore what is a typo
// (an error with a suggestion). Names come from HAProxy's configuration manual
// (sections 3 and 4.1, keyword matrix).

// Unsupported lists HAProxy keywords that appl recognises but does not implement yet,
// by context: "global", "proxy" (defaults/frontend/backend/listen), "option", "server"
// (server/default-server options), "bind" (bind options), "timeout", "section".
// Each use produces the warning "unsupported directive (appl does not implement X yet;
// see docs/compatibility.md)" instead of an error.
var Unsupported = map[string]map[string]bool{
	"global": set(
		"51degrees-data-file", "51degrees-property-name-list", "51degrees-property-separator",
		"51degrees-cache-size", "anonkey", "busy-polling", "close-spread-time",
		"cluster-secret", "cpu-map", "cpu-policy", "debug", "default-path",
		"description", "deviceatlas-json-file", "deviceatlas-log-level",
		"deviceatlas-separator", "deviceatlas-properties-cookie", "dns-accept-family",
		"expose-experimental-directives", "external-check", "fd-hard-limit", "gid", "grace",
		"h1-accept-payload-with-any-method", "h1-case-adjust", "h1-case-adjust-file",
		"h2-workaround-bogus-websocket-clients", "insecure-fork-wanted",
		"insecure-setuid-wanted", "issuers-chain-path", "limited-quic", "localpeer",
		"log-send-hostname", "log-tag", "lua-load", "lua-load-per-thread", "lua-prepend-path",
		"master-worker", "max-spread-checks", "maxcompcpuusage", "maxcomprate",
		"maxconnrate", "maxpipes", "maxsessrate", "maxsslconn", "maxsslrate", "maxzlibmem",
		"mworker-max-reloads", "no-memory-trimming", "no-quic", "noepoll", "noevports",
		"nogetaddrinfo", "nokqueue", "nopoll", "noreuseport", "nosplice", "numa-cpu-mapping",
		"node", "pp2-never-send-local", "prealloc-fd", "presetenv", "profiling.memory",
		"profiling.tasks", "quick-exit", "quiet", "resetenv", "server-state-base",
		"server-state-file", "set-dumpable", "set-var", "set-var-fmt", "setcap", "setenv",
		"spread-checks",
		"ssl-default-bind-client-sigalgs", "ssl-default-bind-sigalgs",
		"ssl-default-server-client-sigalgs", "ssl-default-server-sigalgs",
		"ssl-engine", "ssl-load-extra-del-ext", "ssl-load-extra-files", "ssl-mode-async",
		"ssl-propquery", "ssl-provider", "ssl-provider-path", "ssl-security-level", "ssl-skip-self-issued-ca", "stats-file", "strict-limits",
		"thread-group", "thread-groups", "trace", "uid", "unix-bind", "unsetenv",
		"warn-blocked-traffic-after", "wurfl-cache-size", "wurfl-data-file",
		"wurfl-information-list", "wurfl-information-list-separator", "wurfl-patch-file",
		"zero-warning", "httpclient.resolvers.disabled", "httpclient.resolvers.id",
		"httpclient.resolvers.prefer", "httpclient.retries", "httpclient.ssl.ca-file",
		"httpclient.ssl.verify", "httpclient.timeout.connect", "ocsp-update.disable",
		"ocsp-update.maxdelay", "ocsp-update.mindelay", "ocsp-update.mode",
		"harden.reject-privileged-ports.quic", "harden.reject-privileged-ports.tcp",
		"shm-stats-file", "shm-stats-file-max-objects", "key-base", "nbcpu",
	),
	"proxy": set(
		"backlog", "bind-process", "capture", "clitcpka-cnt", "clitcpka-idle",
		"clitcpka-intvl", "compression", "declare", "dispatch", "email-alert", "errorfiles",
		"errorloc", "errorloc302", "errorloc303", "error-log-format", "external-check",
		"filter", "force-persist", "guid", "hash-balance-factor", "hash-key",
		"hash-preserve-affinity", "http-error", "http-reuse", "http-send-name-header", "id",
		"ignore-persist", "load-server-state-from-file", "log-format-sd", "log-steps",
		"log-tag", "max-keep-alive-queue", "max-session-srv-conns", "monitor",
		"monitor-uri", "persist", "quic-initial", "rate-limit", "retry-on",
		"server-state-file-name", "server-template", "srvtcpka-cnt", "srvtcpka-idle",
		"srvtcpka-intvl", "unique-id-format", "unique-id-header", "use-fcgi-app",
		"use-server", "log-format", "email-alert", "transparent",
		// Removed from HAProxy 2.1+, still found in old configs.
		"reqadd", "reqallow", "reqdel", "reqdeny", "reqiallow", "reqidel", "reqideny",
		"reqipass", "reqirep", "reqisetbe", "reqitarpit", "reqpass", "reqrep", "reqsetbe",
		"reqtarpit", "rspadd", "rspdel", "rspdeny", "rspidel", "rspideny", "rspirep",
		"rsprep", "block", "redisp", "monitor-net", "appsession",
	),
	"option": set(
		"accept-invalid-http-request", "accept-invalid-http-response",
		"accept-unsafe-violations-in-http-request", "accept-unsafe-violations-in-http-response",
		"allbackups-redispatch", "checkcache", "contstats", "disable-h2-upgrade",
		"dontlog-normal", "external-check", "forceclose", "h1-case-adjust-bogus-client",
		"h1-case-adjust-bogus-server", "http-buffer-request", "http-drop-request-trailers",
		"http-drop-response-trailers", "http-ignore-probes", "http-no-delay",
		"http-pretend-keepalive", "http-restrict-req-hdr-names", "http-use-htx",
		"http-use-proxy-header", "http_proxy", "httpslog", "idle-close-on-response",
		"independent-streams", "ldap-check", "log-separate-errors", "logasap", "mysql-check",
		"nolinger", "originalto", "persist", "pgsql-check", "prefer-last-server",
		"redis-check", "smtpchk", "socket-stats", "spop-check", "ssl-hello-chk",
		"tcp-smart-accept", "tcp-smart-connect", "transparent", "splice-request",
		"splice-response", "abortonclose",
	),
	"server": set(
		"agent-addr", "agent-check", "agent-inter", "agent-port", "agent-send", "allow-0rtt", "check-alpn", "check-proto", "check-reuse-pool",
		"check-send-proxy", "check-via-socks4", "client-sigalgs", "crl-file", "enabled",
		"error-limit", "guid", "hash-key", "id", "init-addr", "init-state", "log-bufsize",
		"log-proto", "max-reuse", "minconn", "namespace", "no-agent-check", "no-backup",
		"no-check", "no-send-proxy", "no-send-proxy-v2",
		"no-send-proxy-v2-ssl", "no-send-proxy-v2-ssl-cn", "no-tfo", "non-stick", "npn", "observe", "on-error",
		"pool-conn-name", "pool-low-conn", "pool-max-conn", "pool-purge-delay", "proto",
		"proxy-v2-options", "redir", "resolve-net", "resolve-opts", "resolve-prefer",
		"resolvers", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn", "set-proxy-v2-tlv-fmt",
		"shard", "sigalgs", "socks4", "stick", "strict-maxconn", "tcp-md5sig", "tcp-ut", "tfo", "track", "ws",
	),
	"bind": set(
		"allow-0rtt", "backlog", "ca-ignore-err", "ca-sign-file",
		"ca-sign-pass", "ca-verify-file", "client-sigalgs",
		"crl-file", "crt-ignore-err", "crt-list", "defer-accept",
		"ecdhe", "expose-fd", "generate-certificates", "gid", "group", "guid-prefix",
		"id", "idle-ping", "interface", "label", "level", "maxconn", "mode", "mss",
		"namespace", "nbconn", "nice", "no-ca-names", "npn", "proto", "process", "quic-cc-algo", "quic-force-retry",
		"quic-socket", "severity-output", "shards", "sigalgs", "tcp-md5sig", "tcp-ut", "tfo", "thread",
		"tls-ticket-keys", "uid", "user",
	),
	"timeout": set("tarpit"),
	"section": set("resolvers", "ring", "cache", "http-errors", "program", "mailers",
		"fcgi-app", "log-forward", "crt-store", "traces", "log-profile", "acme"),
}

// notServedYet lists directives that are decoded and kept (raw rules or fields the data
// plane does not read yet): each proxy section using one gets a single warning per kind,
// so nothing is silently ignored. Delete an entry when the data plane serves it.
var notServedYet = map[string]string{
	"http-after-response": "HTTP after-response rules",
	"tcp-response":        "tcp-response rules",
}

// appl's own section kinds are decoded by other packages: skipped silently here.
var applSections = set("vrrp", "carp", "vrrp-group", "cluster", "sysctl", "network", "admin", "node")

// globalKeywords are the global directives appl decodes.
var globalKeywords = set("maxconn", "daemon", "pidfile", "log", "user", "group", "chroot",
	"nbthread", "hard-stop-after", "stats", "tune.bufsize", "tune.maxrewrite", "ulimit-n",
	"nbproc")

// proxyKeywords are the proxy directives appl decodes (in some section kind).
var proxyKeywords = set("mode", "bind", "maxconn", "timeout", "contimeout", "clitimeout",
	"srvtimeout", "default_backend", "use_backend", "acl", "balance", "hash-type",
	"default-server", "server", "option", "no", "tcp-check", "http-check", "retries", "log",
	"source", "fullconn", "description", "disabled", "enabled", "stats", "http-request",
	"http-response", "http-after-response", "tcp-request", "tcp-response", "stick",
	"stick-table", "cookie", "errorfile", "redirect", "redispatch")

// recordedOptions are `option X` flags kept in Options for the data plane.
var recordedOptions = set("allbackups", "tcplog", "httplog", "dontlognull", "redispatch",
	"tcp-check", "httpchk", "forwardfor", "http-server-close", "httpclose",
	"http-keep-alive", "tcpka", "clitcpka", "srvtcpka", "splice-auto", "log-health-checks")

// httpOnlyOptions need mode http; in a tcp proxy HAProxy ignores them with a warning.
var httpOnlyOptions = set("forwardfor", "http-server-close", "httpclose", "http-keep-alive",
	"abortonclose", "http-ignore-probes", "http-buffer-request", "originalto",
	"http-pretend-keepalive", "http-no-delay", "http_proxy", "http-use-proxy-header")

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func keys(ms ...map[string]bool) []string {
	var out []string
	for _, m := range ms {
		for k := range m {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// isUnsupportedGlobal also accepts HAProxy's whole tune.* family except what appl decodes.
func isUnsupportedGlobal(kw string) bool {
	return Unsupported["global"][kw] || strings.HasPrefix(kw, "tune.") ||
		strings.HasPrefix(kw, "lua.") || strings.HasPrefix(kw, "wurfl-") ||
		strings.HasPrefix(kw, "51degrees-") || strings.HasPrefix(kw, "deviceatlas-")
}
