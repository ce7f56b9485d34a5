#!/usr/bin/env bash
# The firewall: publishing and unpublishing 1, 100, 1,000 and 5,000 ports for one sandbox
# (whole `netctl network connect -p`/`disconnect` commands, and the share above a plain
# connect/disconnect), against the nft CLI's floor for a 5,000-element map; TCP connection
# rate through a published port with 1 and with 5,000 ports published; TCP throughput
# through a published port against the routed path to the same sandbox.
# A "host" and a "client" namespace of the benchmark's own, 198.18.0.0/15 addresses; every
# process and namespace it starts is removed at the end however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
RUNS=${RUNS:-20}
SECS=${SECS:-3}
OUT=${OUT:-bench-results}
tag=$$
HOST=ncf-host-$tag CLIENT=ncf-client-$tag SB=ncf-sb-$tag WEB=ncf-web-$tag FILL=ncf-fill-$tag
ROOT=$(mktemp -d /tmp/netctl-bench-root.XXXXXX)
WORK=$(mktemp -d /tmp/netctl-bench-fw.XXXXXX)
mkdir -p "$OUT"
SERVER_PID=

in_host() { nsenter --net="/run/netns/$HOST" env NETCTL_ROOT="$ROOT" "$@"; }
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    for sandbox in "$SB" "$WEB" "$FILL"; do in_host "$NETCTL" sandbox rm "$sandbox" >/dev/null 2>&1 || true; done
    ip netns del "$CLIENT" 2>/dev/null || true
    ip netns del "$HOST" 2>/dev/null || true
    rm -rf "$ROOT" "$WORK"
}
trap cleanup EXIT

gcc -O2 -o "$WORK/loadgen" Benchmarks/loadgen.c
ip netns add "$HOST"; ip -n "$HOST" link set lo up
ip netns add "$CLIENT"; ip -n "$CLIENT" link set lo up
ip -n "$HOST" link add uplink0 type veth peer name eth0 netns "$CLIENT"
ip -n "$HOST" addr add 198.19.0.1/24 dev uplink0; ip -n "$HOST" link set uplink0 up
ip -n "$CLIENT" addr add 198.19.0.2/24 dev eth0; ip -n "$CLIENT" link set eth0 up
ip -n "$CLIENT" route add 198.18.110.0/24 via 198.19.0.1

N="$NETCTL"
in_host "$N" network create --subnet 198.18.110.0/24 front >/dev/null
for sandbox in "$SB" "$WEB" "$FILL"; do in_host "$N" sandbox create "$sandbox" >/dev/null; done

bench() { # name, prepare, command
    in_host hyperfine --style none --warmup 2 --runs "$RUNS" --export-json "$OUT/$1.json" \
        --prepare "$2" "$3" >/dev/null 2>&1
}

echo "benchmarking publish/unpublish (runs=$RUNS each)..."
bench fw-connect-0 "$N network disconnect front $SB >/dev/null 2>&1 || true" "$N network connect front $SB"
bench fw-disconnect-0 "$N network connect front $SB >/dev/null 2>&1 || true" "$N network disconnect front $SB"
for count in 1 100 1000 5000; do
    spec="20000-$((20000 + count - 1)):20000-$((20000 + count - 1))"
    [ "$count" = 1 ] && spec="20000:20000"
    bench "fw-connect-$count" "$N network disconnect front $SB >/dev/null 2>&1 || true" "$N network connect -p $spec front $SB"
    bench "fw-disconnect-$count" "$N network connect -p $spec front $SB >/dev/null 2>&1 || true" "$N network disconnect front $SB"
done
in_host "$N" network disconnect front "$SB" >/dev/null 2>&1 || true

# The nft CLI's floor: one `nft -f` adding a 5,000-element map of the same shape.
{
    echo "add table ip ncfloor"
    echo "add map ip ncfloor ports { type inet_proto . inet_service : ipv4_addr . inet_service; }"
    printf "add element ip ncfloor ports { "
    for port in $(seq 20000 24999); do printf "tcp . %d : 198.18.110.2 . %d, " "$port" "$port"; done
    echo "}"
} > "$WORK/floor.nft"
bench nft-floor-5000 "nft delete table ip ncfloor >/dev/null 2>&1 || true" "nft -f $WORK/floor.nft"
in_host nft delete table ip ncfloor 2>/dev/null || true

echo "measuring connection rate and throughput (${SECS}s each, 3 trials)..."
in_host "$N" network connect --ip 198.18.110.50 -p 8080:80 front "$WEB" >/dev/null
ip netns exec "$WEB" "$WORK/loadgen" serve 80 &
SERVER_PID=$!
sleep 0.3
client() { ip netns exec "$CLIENT" "$WORK/loadgen" "$@"; }
trials() { for _ in 1 2 3; do client "$@"; done | sort -n | sed -n 2p; }
rate1=$(trials connect 198.19.0.1 8080 "$SECS")
in_host "$N" network connect -p 30000-34998:30000-34998 front "$FILL" >/dev/null
rate5000=$(trials connect 198.19.0.1 8080 "$SECS")
published=$(trials stream 198.19.0.1 8080 "$SECS")
routed=$(trials stream 198.18.110.50 80 "$SECS")

python3 - "$OUT" "$rate1" "$rate5000" "$published" "$routed" <<'PY'
import json, sys, os
out, rate1, rate5000, published, routed = sys.argv[1], *map(float, sys.argv[2:])
def median(name):
    with open(os.path.join(out, name + ".json")) as f:
        return json.load(f)["results"][0]["median"] * 1000
c0, d0, floor = median("fw-connect-0"), median("fw-disconnect-0"), median("nft-floor-5000")
print("| ports | connect -p | publish share | disconnect | unpublish share |")
print("|---|---|---|---|---|")
for n in [1, 100, 1000, 5000]:
    c, d = median(f"fw-connect-{n}"), median(f"fw-disconnect-{n}")
    print(f"| {n} | {c:.2f} ms | {c - c0:.2f} ms | {d:.2f} ms | {d - d0:.2f} ms |")
print(f"\nplain connect {c0:.2f} ms, plain disconnect {d0:.2f} ms; nft -f of a 5,000-element map: {floor:.2f} ms")
c5000 = median("fw-connect-5000") - c0
print(f"netctl publishes 5,000 ports in {c5000:.2f} ms above a plain connect: {c5000/floor:.2f}× the nft CLI floor")
print(f"\nTCP connections/s through a published port: {rate1:.0f} with 1 port, {rate5000:.0f} with 5,000 ({rate5000/rate1:.2f}×)")
print(f"TCP throughput: published port {published:.2f} Gbit/s, routed path {routed:.2f} Gbit/s ({published/routed:.2f}×)")
PY
