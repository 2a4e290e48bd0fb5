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
#     rather than conns/s, which follows the other tenants' load.
# Environment: COUNT=3 (rounds), CONNS=20000, WRITES=2000, SKIP_WRITES=1 to skip the
# map write part.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=${COUNT:-3}
CONNS=${CONNS:-20000}
WRITES=${WRITES:-2000}
if [ -z "${SKIP_WRITES:-}" ]; then
	go test ./cmd/appld -run XXX -bench BenchmarkClusterMapWriteAck -benchtime "${WRITES}x" -count "$COUNT" | grep -E '^(Benchmark|ok|FAIL)'
fi
go test -c -o "${TMPDIR:-/tmp}/appld-bench.test.$$" ./cmd/appld
trap 'rm -f "${TMPDIR:-/tmp}/appld-bench.test.$$"' EXIT
for _ in $(seq "$COUNT"); do
	for mode in off on; do
		(cd cmd/appld && "${TMPDIR:-/tmp}/appld-bench.test.$$" -test.run XXX -test.bench "BenchmarkClusterProxyConns/replication-$mode\$" -test.benchtime "${CONNS}x") | grep -E '^(Benchmark|FAIL)'
	done
done
