#!/usr/bin/env bash
# bench/cluster.sh: a replicated pair of real appld processes on loopback.
#   - map write acknowledgement through the runtime socket (leader, and follower which
#     forwards), p50/p99 in ms;
#   - short proxied connections per second, each from its own client address (a new
#     stick-table entry each: every connection is a replicated update), with
#     replication off (cluster section, not joined) and on (pair formed). Both runs
#     have the second appld running: on one host it shares the CPUs. The two are
#     alternated (off, on, off, on, ...) so a shared host's load hits both alike;
#     compare master-cpu-us/conn (CPU of the box taking the traffic per connection)
#     and peer-cpu-us/conn (the standby's: on one host it takes the same CPUs; on two
#     boxes it would not) rather than conns/s, which follows the other tenants' load.
# Environment: COUNT=3 (rounds), CONNS=20000, WRITES=2000, SKIP_WRITES=1 to skip the
# map write part. BASE=DIR (another checkout, e.g. `git worktree add /tmp/base main`
# or a `git archive` of it): each round also runs DIR's benchmark (off, on) before
# this tree's, lines prefixed "base" and "this", for a same-time A/B.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=${COUNT:-3}
CONNS=${CONNS:-20000}
WRITES=${WRITES:-2000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/appld-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trees=("this:$PWD")
if [ -n "${BASE:-}" ]; then
	trees=("base:$(cd "$BASE" && pwd)" "this:$PWD")
fi
for t in "${trees[@]}"; do
	(cd "${t#*:}" && go test -c -o "$tmp/${t%%:*}.test" ./cmd/appld)
done
if [ -z "${SKIP_WRITES:-}" ]; then
	for t in "${trees[@]}"; do
		(cd "${t#*:}/cmd/appld" && "$tmp/${t%%:*}.test" -test.run XXX -test.bench BenchmarkClusterMapWriteAck -test.benchtime "${WRITES}x" -test.count "$COUNT") |
			grep -E '^(Benchmark|FAIL)' | sed "s/^/${t%%:*} /"
	done
fi
for _ in $(seq "$COUNT"); do
	for t in "${trees[@]}"; do
		for mode in off on; do
			(cd "${t#*:}/cmd/appld" && "$tmp/${t%%:*}.test" -test.run XXX -test.bench "BenchmarkClusterProxyConns/replication-$mode\$" -test.benchtime "${CONNS}x") |
				grep -E '^(Benchmark|FAIL)' | sed "s/^/${t%%:*} /"
		done
	done
done
