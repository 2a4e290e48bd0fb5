#!/usr/bin/env bash
# bench/run.sh: the same L4 scenarios through appld, through haproxy and
# directly to the backend, in one run, alternating appld and haproxy round by
# round, then one table side by side. See bench/README.md.
#
# Environment (all optional):
#   APPLD=PATH      appld binary (default: go build ./cmd/appld into a temp dir)
#   HAPROXY=PATH    haproxy binary (default: haproxy from PATH)
#   DURATION=5      seconds per wrk / iperf3 run
#   ROUNDS=2        rounds per scenario (each round: appld, haproxy, direct)
#   THREADS=2       haproxy nbthread = appld GOMAXPROCS
#   CONNS=64        wrk connections (wrk -t2)
#   IDLE_N=10000    idle proxied connections for the RSS scenario
#   SCENARIOS="ka close bulk idle"   subset to run
#   PIN=auto        auto: pin proxy and load to separate CPUs when there are
#                   at least THREADS+2 of them; 0: never pin
#   SPLICE=0        1: add "option splice-auto" to defaults (haproxy does not
#                   splice by default; the config stays the same for both)
#   KEEP=0          1: keep the temp dir (configs, logs, raw tool output)
#   APPLD_B=""      A/B: run this other appld binary as column appldB (with B_ENV)
#   B_ENV=""        A/B: also run the same appld with these environment
#                   settings (e.g. B_ENV="APPL_EVLOOP=on") as column appldB,
#                   alternating with the others in every round
set -u -o pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
IDLE_N=${IDLE_N:-10000}
SCENARIOS=${SCENARIOS:-"ka close bulk idle"}
PIN=${PIN:-auto}
KEEP=${KEEP:-0}
SPLICE=${SPLICE:-0}
HAPROXY=${HAPROXY:-haproxy}
APPLD=${APPLD:-}
B_ENV=${B_ENV:-}
APPLD_B=${APPLD_B:-}
# APPLD_B alone (another binary as appldB) needs a non-empty B_ENV to switch the column on.
[ -n "$APPLD_B" ] && [ -z "$B_ENV" ] && B_ENV="APPLD_B=1"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d /tmp/appl-bench.XXXXXX)
RES=$TMP/res
mkdir -p "$RES"
PIDS=()
T0=$SECONDS

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$KEEP" = 1 ]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# start NAME CMD...: run CMD in the background, logging to $TMP/NAME.log,
# remembered for the exit trap; sets LAST_PID.
start() {
	local name=$1
	shift
	# Truncate here, not in the child: a poll of the log right after start
	# must not see the previous run's lines.
	: >"$TMP/$name.log"
	"$@" >>"$TMP/$name.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# ---- tools, limits, CPUs -------------------------------------------------

for t in wrk iperf3 go ss awk "$HAPROXY"; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install -y wrk iperf3 haproxy iproute2; Go from go.dev)"
done

# 10,000 proxied connections are 20,000 fds in the proxy and as many in
# idleconns (its client and backend ends). Raising the hard limit needs
# CAP_SYS_RESOURCE; without it the idle scenario shrinks to what fits.
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
FDS=$(ulimit -n)
[ "$FDS" = unlimited ] && FDS=1048576
# haproxy needs 2 fds per connection (+ 2 per pipe with splicing: maxpipes
# defaults to maxconn/4) and refuses to start above the limit.
SPLICE=${SPLICE:-0}
if [ "$SPLICE" = 1 ]; then MAXCONN=$(((FDS - 100) * 2 / 5)); else MAXCONN=$(((FDS - 100) / 2)); fi
[ "$MAXCONN" -gt 40000 ] && MAXCONN=40000
IDLE_NOTE=""
fit=$(((FDS - 200) / 2))
[ "$fit" -gt $((MAXCONN - 10)) ] && fit=$((MAXCONN - 10))
if [ "$IDLE_N" -gt "$fit" ]; then
	IDLE_NOTE="idle scenario: $fit connections instead of $IDLE_N (open files limited to $FDS; raising it needs CAP_SYS_RESOURCE)"
	IDLE_N=$fit
	say "bench: $IDLE_NOTE"
fi

NCPU=$(nproc)
PROXY_CPU=()
LOAD_CPU=()
if [ "$PIN" != 0 ] && [ "$NCPU" -ge $((THREADS + 2)) ] && command -v taskset >/dev/null; then
	PROXY_CPU=(taskset -c "0-$((THREADS - 1))")
	LOAD_CPU=(taskset -c "$THREADS-$((NCPU - 1))")
	PINNING="proxy on CPUs 0-$((THREADS - 1)), wrk/iperf3/backend on $THREADS-$((NCPU - 1))"
else
	PINNING="not pinned: proxy, wrk/iperf3 and backend share $NCPU CPUs"
fi

# ---- ports (below the ephemeral range, not in use) --------------------------

USED=" $(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
pick_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		case "$USED" in *" $p "*) continue ;; esac
		USED="$USED$p "
		printf -v "$1" '%s' "$p"
		return
	done
}
pick_port BE_HTTP
pick_port BE_BULK
pick_port BE_IDLE
pick_port FE_HTTP
pick_port FE_BULK
pick_port FE_IDLE

# ---- builds ---------------------------------------------------------------

say "bench: building backend and idleconns"
(cd "$ROOT" && go build -o "$TMP/backend" ./bench/backend && go build -o "$TMP/idleconns" ./bench/idleconns) ||
	die "cannot build bench/backend or bench/idleconns"

APPLD_NOTE=""
if [ -n "$APPLD" ]; then
	[ -x "$APPLD" ] || APPLD_NOTE="appld not built: $APPLD is not executable"
elif (cd "$ROOT" && go build -o "$TMP/appld" ./cmd/appld) >"$TMP/appld-build.log" 2>&1; then
	APPLD=$TMP/appld
else
	APPLD_NOTE="appld not built: $(head -n 1 "$TMP/appld-build.log")"
fi

# ---- one configuration for both proxies ---------------------------------

CFG=$TMP/bench.cfg
SPLICE_LINE=""
[ "$SPLICE" = 1 ] && SPLICE_LINE="    option splice-auto"
cat >"$CFG" <<EOF
# generated by bench/run.sh; read by haproxy and by appld
global
    nbthread $THREADS
    maxconn $MAXCONN

defaults
    mode tcp
    maxconn $MAXCONN
    timeout connect 5s
    timeout client 60s
    timeout server 60s
$SPLICE_LINE

listen http
    mode tcp
    bind 127.0.0.1:$FE_HTTP
    balance roundrobin
    server s1 127.0.0.1:$BE_HTTP

listen bulk
    mode tcp
    bind 127.0.0.1:$FE_BULK
    balance roundrobin
    server s1 127.0.0.1:$BE_BULK

listen idle
    mode tcp
    bind 127.0.0.1:$FE_IDLE
    balance roundrobin
    server s1 127.0.0.1:$BE_IDLE
EOF

"$HAPROXY" -c -f "$CFG" >"$TMP/haproxy-check.log" 2>&1 || { cat "$TMP/haproxy-check.log" >&2; die "haproxy refuses the generated config"; }
if [ -z "$APPLD_NOTE" ] && ! "$APPLD" -c -f "$CFG" >"$TMP/appld-check.log" 2>&1; then
	APPLD_NOTE="appld -c refuses the config: $(head -n 1 "$TMP/appld-check.log")"
fi
IMPLS=(appld haproxy direct)
[ -n "$B_ENV" ] && IMPLS=(appld appldB haproxy direct)
[ -n "$APPLD_NOTE" ] && IMPLS=(haproxy direct)

# ---- processes --------------------------------------------------------------

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# ready_or_dead PID: true once every frontend listens, or once PID is gone.
ready_or_dead() {
	! kill -0 "$1" 2>/dev/null || { listening "$FE_HTTP" && listening "$FE_BULK" && listening "$FE_IDLE"; }
}

# start_proxy IMPL: a fresh process per measurement, so that its peak RSS
# belongs to that measurement alone. Sets PROXY_PID.
start_proxy() {
	case $1 in
	haproxy) start haproxy "${PROXY_CPU[@]}" "$HAPROXY" -db -f "$CFG" ;;
	appld) start appld env GOMAXPROCS="$THREADS" "${PROXY_CPU[@]}" "$APPLD" -f "$CFG" ;;
	# shellcheck disable=SC2086 # B_ENV is a list of NAME=VALUE words
	appldB) start appldB env $B_ENV GOMAXPROCS="$THREADS" "${PROXY_CPU[@]}" "${APPLD_B:-$APPLD}" -f "$CFG" ;;
	esac
	PROXY_PID=$LAST_PID
	if ! wait_for 10 ready_or_dead "$PROXY_PID" || ! kill -0 "$PROXY_PID" 2>/dev/null; then
		say "bench: $1 did not start; last log lines:"
		tail -n 5 "$TMP/$1.log" >&2
		stop "$PROXY_PID"
		return 1
	fi
	# env and taskset exec the proxy, so PROXY_PID is the proxy itself.
}

# cpu_ticks PID: user+system CPU time of PID (all its threads) in clock ticks,
# empty when there is no such process (the direct runs).
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ticks() { [ -n "$1" ] && awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

# CPU cost of the proxy per unit of work: unlike req/s and Gbit/s it hardly
# depends on what else runs on the shared CPUs, so small changes show.
# cpu_per SCENARIO IMPL TICKS_BEFORE TICKS_AFTER UNITS SCALE
cpu_per() {
	[ -n "$3" ] && [ -n "$4" ] || return 0
	record "$1" cpu "$2" "$(awk -v a="$3" -v b="$4" -v n="$5" -v s="$6" -v hz="$CLK_TCK" 'BEGIN { if (n + 0 > 0) printf "%.1f\n", (b - a) / hz * s / n; else print "-" }')"
}

# record SCENARIO METRIC IMPL VALUE
record() { echo "$4" >>"$RES/$1.$2.$3"; }

# ---- scenarios --------------------------------------------------------------

# wrk_run SCENARIO IMPL PORT [wrk args]: req/s, p50, p99 (ms), errors.
wrk_run() {
	local sc=$1 impl=$2 port=$3
	shift 3
	local out t0 t1 n
	t0=$(cpu_ticks "$CPU_PID")
	out=$(timeout $((DURATION + 30)) "${LOAD_CPU[@]}" wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" "http://127.0.0.1:$port/" 2>&1)
	t1=$(cpu_ticks "$CPU_PID")
	printf '== %s %s\n%s\n' "$sc" "$impl" "$out" >>"$TMP/wrk.out"
	n=$(awk '/ requests in / { print $1 }' <<<"$out")
	cpu_per "$sc" "$impl" "$t0" "$t1" "$n" 1000000
	read -r rps p50 p99 errs <<<"$(awk '
		function ms(v, n) {
			n = v + 0
			if (v ~ /us$/) return n / 1000
			if (v ~ /ms$/) return n
			if (v ~ /s$/) return n * 1000
			if (v ~ /m$/) return n * 60000
			return n
		}
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		/^Requests\/sec:/ { rps = $2 }
		/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx/ { e += $NF }
		END { if (rps == "") print "- - - -"; else printf "%s %s %s %d\n", rps, p50, p99, e }' <<<"$out")"
	record "$sc" rps "$impl" "$rps"
	record "$sc" p50 "$impl" "$p50"
	record "$sc" p99 "$impl" "$p99"
	record "$sc" errors "$impl" "$errs"
	say "  $sc $impl: $rps req/s p50 ${p50}ms p99 ${p99}ms errors $errs"
}

bulk_run() {
	local impl=$1 port=$2 out gbps t0 t1 gb
	t0=$(cpu_ticks "$CPU_PID")
	out=$(timeout $((DURATION + 30)) "${LOAD_CPU[@]}" iperf3 -c 127.0.0.1 -p "$port" -t "$DURATION" -f m 2>&1)
	t1=$(cpu_ticks "$CPU_PID")
	printf '== bulk %s\n%s\n' "$impl" "$out" >>"$TMP/iperf3.out"
	gbps=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) / 1000 }
		END { if (v == "") print "-"; else printf "%.2f\n", v }' <<<"$out")
	record bulk gbps "$impl" "$gbps"
	# Bytes the receiver got, in GB (iperf3 picks the unit of its transfer column).
	gb=$(awk '/receiver/ { for (i = 2; i <= NF; i++) {
			if ($i == "GBytes") v = $(i - 1) * 1.073741824
			else if ($i == "MBytes") v = $(i - 1) * 0.001048576
			else if ($i == "KBytes") v = $(i - 1) * 0.000001024 } }
		END { print v + 0 }' <<<"$out")
	cpu_per bulk "$impl" "$t0" "$t1" "$gb" 1000
	say "  bulk $impl: $gbps Gbit/s"
}

idle_ready_or_dead() { ! kill -0 "$1" 2>/dev/null || grep -q '^ready' "$TMP/idleconns.log"; }

idle_run() {
	local impl=$1 base hwm rss ipid
	base=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$PROXY_PID/status")
	start idleconns "$TMP/idleconns" -proxy "127.0.0.1:$FE_IDLE" -listen "127.0.0.1:$BE_IDLE" -n "$IDLE_N" -timeout 90s
	ipid=$LAST_PID
	if ! wait_for 90 idle_ready_or_dead "$ipid" || ! kill -0 "$ipid" 2>/dev/null; then
		say "  idle $impl: failed: $(tail -n 1 "$TMP/idleconns.log")"
		stop "$ipid"
		return
	fi
	read -r hwm rss <<<"$(awk '/^VmHWM/ { h = $2 } /^VmRSS/ { r = $2 } END { printf "%.1f %.1f\n", h / 1024, r / 1024 }' "/proc/$PROXY_PID/status")"
	stop "$ipid"
	record idle base "$impl" "$base"
	record idle hwm "$impl" "$hwm"
	record idle rss "$impl" "$rss"
	record idle setup "$impl" "$(awk '{ print $3 + 0 }' "$TMP/idleconns.log")"
	say "  idle $impl: VmHWM ${hwm} MiB, VmRSS ${rss} MiB (at start ${base} MiB) with $IDLE_N connections"
}

start backend "${LOAD_CPU[@]}" "$TMP/backend" -addr "127.0.0.1:$BE_HTTP"
start iperf3-server "${LOAD_CPU[@]}" iperf3 -s -B 127.0.0.1 -p "$BE_BULK"
wait_for 10 listening "$BE_HTTP" || die "backend did not start: $(tail -n 3 "$TMP/backend.log")"
wait_for 10 listening "$BE_BULK" || die "iperf3 -s did not start: $(tail -n 3 "$TMP/iperf3-server.log")"

say "bench: $ROUNDS rounds x ${DURATION}s, nbthread $THREADS, $NCPU CPUs ($PINNING)"
[ -n "$APPLD_NOTE" ] && say "bench: $APPLD_NOTE"

for sc in $SCENARIOS; do
	for r in $(seq "$ROUNDS"); do
		for impl in "${IMPLS[@]}"; do
			if [ "$impl" = direct ]; then
				CPU_PID=""
				case $sc in
				ka) wrk_run ka direct "$BE_HTTP" ;;
				close) wrk_run close direct "$BE_HTTP" -H "Connection: close" ;;
				bulk) bulk_run direct "$BE_BULK" ;;
				esac
				continue
			fi
			start_proxy "$impl" || continue
			CPU_PID=$PROXY_PID
			case $sc in
			ka) wrk_run ka "$impl" "$FE_HTTP" ;;
			close) wrk_run close "$impl" "$FE_HTTP" -H "Connection: close" ;;
			bulk) bulk_run "$impl" "$FE_BULK" ;;
			idle) idle_run "$impl" ;;
			*) die "unknown scenario $sc (ka close bulk idle)" ;;
			esac
			stop "$PROXY_PID"
		done
	done
done

# ---- table ----------------------------------------------------------------------

# mean SCENARIO METRIC IMPL: mean over rounds, "-" if none.
mean() {
	local f=$RES/$1.$2.$3
	[ -s "$f" ] || { echo -; return; }
	awk '$1 != "-" { s += $1; n++ } END { if (n) printf "%.6g\n", s / n; else print "-" }' "$f"
}
rounds() {
	local f=$RES/$1.$2.$3
	[ -s "$f" ] && paste -sd/ "$f" || echo -
}

# row LABEL SCENARIO METRIC FORMAT TARGET: TARGET is "hi:X" (appld >= X x
# haproxy), "lo:X" (appld <= X x haproxy), "direct:X" (appld >= X x direct).
row() {
	local label=$1 sc=$2 m=$3 fmt=$4 target=${5:-} d h a b ratio bratio verdict=""
	d=$(mean "$sc" "$m" direct)
	h=$(mean "$sc" "$m" haproxy)
	if [ -n "$APPLD_NOTE" ]; then a=skipped; else a=$(mean "$sc" "$m" appld); fi
	ratio=$(awk -v a="$a" -v h="$h" 'BEGIN { if (a + 0 > 0 && h + 0 > 0) printf "%.2f", a / h; else print "-" }')
	b=$(mean "$sc" "$m" appldB)
	bratio=$(awk -v a="$b" -v h="$h" 'BEGIN { if (a + 0 > 0 && h + 0 > 0) printf "%.2f", a / h; else print "-" }')
	if [ -n "$target" ] && [ "$ratio" != - ]; then
		verdict=$(awk -v t="$target" -v a="$a" -v h="$h" -v d="$d" 'BEGIN {
			split(t, p, ":")
			if (p[1] == "hi") ok = a >= p[2] * h
			else if (p[1] == "lo") ok = a <= p[2] * h
			else ok = d + 0 > 0 && a >= p[2] * d
			print ok ? "met" : "MISSED"
		}')
	fi
	case $target in
	hi:*) target=">= ${target#hi:}x haproxy" ;;
	lo:*) target="<= ${target#lo:}x haproxy" ;;
	direct:*) target=">= $(awk -v x="${target#direct:}" 'BEGIN { print x * 100 }')% direct" ;;
	esac
	f() { [ "$1" = - ] || [ "$1" = skipped ] && echo "$1" || printf "$fmt" "$1"; }
	if [ -n "$B_ENV" ]; then
		printf '%-34s %10s %10s %10s %8s %10s %8s  %-18s %s\n' "$label" "$(f "$d")" "$(f "$h")" "$(f "$a")" "$ratio" "$(f "$b")" "$bratio" "$target" "$verdict"
	else
		printf '%-34s %10s %10s %10s %8s  %-18s %s\n' "$label" "$(f "$d")" "$(f "$h")" "$(f "$a")" "$ratio" "$target" "$verdict"
	fi
}

has() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }

echo
echo "appl bench  $(date -u '+%Y-%m-%d %H:%M UTC')  $(uname -r)  $("$HAPROXY" -v | awk 'NR == 1 { print $1, $3 }')"
echo "$ROUNDS rounds x ${DURATION}s, alternating appld/haproxy/direct; nbthread $THREADS (appld GOMAXPROCS=$THREADS); wrk -t2 -c$CONNS; splice-auto $([ "$SPLICE" = 1 ] && echo on || echo off); $NCPU CPUs, $PINNING; load avg at start $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$APPLD_NOTE" ] && echo "$APPLD_NOTE"
[ -n "$IDLE_NOTE" ] && echo "$IDLE_NOTE"
echo
if [ -n "$B_ENV" ]; then
	if [ -n "$APPLD_B" ]; then
		echo "appldB: $APPLD_B with $B_ENV (result column judges appld)"
	else
		echo "appldB: the same appld with $B_ENV (result column judges appld)"
	fi
	printf '%-34s %10s %10s %10s %8s %10s %8s  %-18s %s\n' "metric (mean of rounds)" direct haproxy appld "a/h" appldB "b/h" target result
else
	printf '%-34s %10s %10s %10s %8s  %-18s %s\n' "metric (mean of rounds)" direct haproxy appld "a/h" target result
fi
printf '%.0s-' {1..104}
echo
if has ka; then
	row "L4 keep-alive req/s" ka rps "%.0f" hi:1
	row "L4 keep-alive p50 ms" ka p50 "%.3f"
	row "L4 keep-alive p99 ms" ka p99 "%.3f"
	row "L4 keep-alive errors" ka errors "%.0f"
	row "L4 keep-alive proxy CPU us/req" ka cpu "%.1f"
fi
if has close; then
	row "L4 conn/request req/s" close rps "%.0f" hi:1
	row "L4 conn/request p50 ms" close p50 "%.3f"
	row "L4 conn/request p99 ms" close p99 "%.3f"
	row "L4 conn/request errors" close errors "%.0f"
	row "L4 conn/request proxy CPU us/req" close cpu "%.1f"
fi
if has bulk; then
	row "bulk iperf3 Gbit/s" bulk gbps "%.2f" direct:0.9
	row "bulk proxy CPU ms/GB" bulk cpu "%.1f"
	h=$(mean bulk gbps haproxy) d=$(mean bulk gbps direct)
	awk -v h="$h" -v d="$d" 'BEGIN { if (d + 0 > 0 && h + 0 > 0) printf "%-34s %21.0f%%\n", "  haproxy as % of direct", 100 * h / d }'
fi
if has idle; then
	row "idle $IDLE_N: VmHWM MiB (peak)" idle hwm "%.1f" lo:2
	row "idle $IDLE_N: VmRSS MiB" idle rss "%.1f"
	row "idle: VmRSS MiB at start" idle base "%.1f"
	row "idle: setup s (idleconns)" idle setup "%.2f"
fi
echo
echo "per round (r1/r2/...):"
for f in "$RES"/*; do
	b=${f##*/}
	printf '  %-22s %s\n' "$b" "$(paste -sd/ "$f")"
done
echo "bench took $((SECONDS - T0)) s"
