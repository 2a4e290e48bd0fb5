#!/usr/bin/env bash
# demo-pair: two appl nodes (one configuration file), two HTTP backends and a client,
# each in its own network namespace on a private bridge, addresses in 198.18.0.0/24.
# Needs root and iproute2. Nothing is created in the host's network namespace: every
# link is made inside a demo namespace (ip -n) and everything is removed on exit
# (Ctrl-C, or when stdin closes).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "demo-pair: needs root (it creates network namespaces); try: sudo make demo-pair" >&2
	exit 1
fi
for tool in ip go python3; do
	command -v "$tool" >/dev/null || { echo "demo-pair: $tool not found" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ID="ad$$$(printf '%04x' $((RANDOM % 65536)))"
WORK=$(mktemp -d /tmp/appl-demo-pair.XXXXXX)
chmod 755 "$WORK"
NSS=()
PIDS=()

cleanup() {
	trap - EXIT INT TERM HUP
	echo
	echo "demo-pair: tearing down"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for n in "${NSS[@]}"; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ns() { echo "$ID-$1"; }
mkns() {
	local n; n=$(ns "$1")
	ip netns add "$n"
	NSS+=("$n")
	ip -n "$n" link set lo up
}
# plug HOST ADDR: a veth eth0 in HOST, its peer on the demo bridge.
plug() {
	local h s peer
	h=$(ns "$1") s=$(ns sw) peer="p-$1"
	ip -n "$h" link add eth0 type veth peer name "$peer"
	ip -n "$h" link set "$peer" netns "$s"
	ip -n "$s" link set "$peer" master br0 up
	ip -n "$h" addr add "$2/24" dev eth0
	ip -n "$h" link set eth0 up
}

echo "demo-pair: building appld and applctl"
(cd "$ROOT" && go build -o "$WORK/appld" ./cmd/appld && go build -o "$WORK/applctl" ./cmd/applctl)

mkns sw
ip -n "$(ns sw)" link add br0 type bridge
ip -n "$(ns sw)" link set br0 up
for h in n1 n2 b1 b2 cl; do mkns "$h"; done
plug n1 198.18.0.1
plug n2 198.18.0.2
plug b1 198.18.0.21
plug b2 198.18.0.22
plug cl 198.18.0.10

for b in b1 b2; do
	mkdir -p "$WORK/www-$b"
	echo "hello from backend $b" >"$WORK/www-$b/index.html"
	addr=198.18.0.21; [ "$b" = b2 ] && addr=198.18.0.22
	ip netns exec "$(ns "$b")" python3 -m http.server --bind "$addr" --directory "$WORK/www-$b" 80 >"$WORK/$b.log" 2>&1 &
	PIDS+=($!)
done

# Backends first: a node whose backends are all down would not claim the VIP (track-check).
for addr in 198.18.0.21 198.18.0.22; do
	for i in $(seq 100); do
		ip netns exec "$(ns cl)" bash -c "exec 3<>/dev/tcp/$addr/80" 2>/dev/null && break
		sleep 0.1
	done
done

head -c 32 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token"
cat >"$WORK/appl.cfg" <<CFG
# One file for both nodes; node blocks hold what differs (docs/quickstart-pair.md).
defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 0.0.0.0:8080
    default_backend bk
backend bk
    balance roundrobin
    server b1 198.18.0.21:80 check inter 500ms fall 2 rise 2
    server b2 198.18.0.22:80 check inter 500ms fall 2 rise 2
vrrp vi_1
    interface eth0
    vrid 51
    version 3
    advert-int 100ms
    priority 100
    address 198.18.0.100/24
    track-check web
admin
    token-file token
    check web backend bk min-up 1
node n1
    priority vi_1 150
    admin-addr 198.18.0.1:9443
    data-dir $WORK/n1-data
node n2
    admin-addr 198.18.0.2:9443
    data-dir $WORK/n2-data
CFG

start_node() {
	ip netns exec "$(ns "$1")" "$WORK/appld" -f "$WORK/appl.cfg" --node "$1" --admin-socket "$WORK/$1.sock" --no-bootstrap >"$WORK/$1.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$1=$!"
}
start_node n1
start_node n2
CTL="$WORK/applctl"
# Up when each node sees the other through the admin API and n1 holds the VIP.
for i in $(seq 100); do
	if "$CTL" -s "$WORK/n1.sock" status 2>/dev/null | grep -q "node n2 (peer" &&
		"$CTL" -s "$WORK/n2.sock" status 2>/dev/null | grep -q "node n1 (peer" &&
		"$CTL" -s "$WORK/n1.sock" status --json 2>/dev/null | grep -q '"state": "MASTER"'; then
		break
	fi
	sleep 0.1
done
cat <<MSG

  appl demo pair is up.
    VIP            198.18.0.100:8080 (VRRPv3, 100 ms adverts; n1 priority 150, n2 100)
    nodes          n1 198.18.0.1 (pid $PID_n1)   n2 198.18.0.2 (pid $PID_n2)
    backends       b1 198.18.0.21:80, b2 198.18.0.22:80
    logs           $WORK/n1.log $WORK/n2.log

  Try, in another shell (as root):
    ip netns exec $(ns cl) curl -s http://198.18.0.100:8080/
    $CTL -s $WORK/n1.sock status
    $CTL -s $WORK/n1.sock failover            # n2 becomes master; time reported
    $CTL -s $WORK/n1.sock failover --to n1    # and back
    $CTL -s $WORK/n1.sock maint bk/b1         # then: ready bk/b1
    $CTL -s $WORK/n2.sock events              # follow VRRP and server events
    kill -9 $PID_n1                              # kill node n1: n2 takes the VIP
    ip netns exec $(ns cl) sh -c 'while :; do curl -s -m 1 http://198.18.0.100:8080/ || echo FAIL; sleep 0.2; done'

  Press Ctrl-C (or close stdin) to tear everything down.
MSG

"$CTL" -s "$WORK/n1.sock" status || true
# Wait for Ctrl-C or end of stdin.
while read -r _; do :; done
