#!/usr/bin/env bash
# bench/cluster.sh: a replicated pair of real appld processes on loopback.
#   - map write acknowledgement through the runtime socket (leader, and follower which
#     forwards), p50/p99 in ms;
#   - short proxied connections per second, each from its own client address (a new
#     stick-table entry each: every connection is a replicated update), with
#     replication off (cluster section, not joined) and on (pair formed). Both runs
#     have the second appld running: on one host it shares the CPUs.
# Environment: COUNT=3 (repetitions), CONNS=20000, WRITES=2000.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COUNT=${COUNT:-3}
CONNS=${CONNS:-20000}
WRITES=${WRITES:-2000}
go test ./cmd/appld -run XXX -bench BenchmarkClusterMapWriteAck -benchtime "${WRITES}x" -count "$COUNT" | grep -E '^(Benchmark|ok|FAIL)'
go test ./cmd/appld -run XXX -bench BenchmarkClusterProxyConns -benchtime "${CONNS}x" -count "$COUNT" | grep -E '^(Benchmark|ok|FAIL)'
