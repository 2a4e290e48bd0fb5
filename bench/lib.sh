# bench/lib.sh: what every bench script shares, sourced after it sets ROOT and KEEP.
# bench_init PREFIX makes the temp dir ($TMP, results in $RES) removed at exit with
# every process started by `start` (unless KEEP=1).

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

bench_init() {
	TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	RES=$TMP/res
	mkdir -p "$RES"
	PIDS=()
	T0=$SECONDS
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	# ports below the ephemeral range, not in use now (pick_port keeps them apart)
	USED=" $(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
	CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
}

bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}

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

# pick_port VAR: a free port in 20000-31999 into VAR.
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

# record SCENARIO METRIC IMPL VALUE / mean SCENARIO METRIC IMPL: one value per round.
record() { echo "$4" >>"$RES/$1.$2.$3"; }
mean() {
	local f=$RES/$1.$2.$3
	[ -s "$f" ] || { echo -; return; }
	awk '$1 != "-" { s += $1; n++ } END { if (n) printf "%.6g\n", s / n; else print "-" }' "$f"
}
