#!/usr/bin/env bash
# Whole-process medians of netctl network create/rm and connect/disconnect, side by side
# with the CNI bridge plugin (ADD/DEL) and the kernel's own veth deletion (`ip link del`).
# Everything runs inside a namespace of the benchmark's own, with 198.18.0.0/15 addresses,
# and is removed at the end however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
RUNS=${RUNS:-40}
OUT=${OUT:-bench-results}
tag=$$
HOST=ncb-host-$tag SANDBOX=ncb-sb-$tag CNISB=ncb-cni-$tag
ROOT=$(mktemp -d /tmp/netctl-bench-root.XXXXXX)
CNIDIR=$(mktemp -d /tmp/netctl-bench-cni.XXXXXX)
mkdir -p "$OUT"

cleanup() {
    nsenter --net="/run/netns/$HOST" env NETCTL_ROOT="$ROOT" "$NETCTL" sandbox rm "$SANDBOX" >/dev/null 2>&1 || true
    ip netns del "$CNISB" 2>/dev/null || true
    ip netns del "$HOST" 2>/dev/null || true
    rm -rf "$ROOT" "$CNIDIR"
}
trap cleanup EXIT

ip netns add "$HOST"
ip -n "$HOST" link set lo up
ip netns add "$CNISB"
# nsenter enters only the network namespace: `ip netns exec` would also give each command
# a mount namespace of its own, where the sandboxes' /run/netns mounts would not persist.
in_host() { nsenter --net="/run/netns/$HOST" env NETCTL_ROOT="$ROOT" "$@"; }
N="$NETCTL"
in_host "$N" sandbox create "$SANDBOX" >/dev/null
in_host "$N" network create --subnet 198.18.101.0/24 bnet >/dev/null

cat > "$CNIDIR/conf.json" <<JSON
{"cniVersion":"0.4.0","name":"ncbench","type":"bridge","bridge":"cni-ncb0","isGateway":true,
 "ipam":{"type":"host-local","subnet":"198.18.102.0/24","dataDir":"$CNIDIR/ipam"}}
JSON
CNI="CNI_CONTAINERID=ncb CNI_NETNS=/run/netns/$CNISB CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni"

bench() { # name, prepare, command
    in_host hyperfine --style none --warmup 3 --runs "$RUNS" --export-json "$OUT/$1.json" \
        --prepare "$2" "$3" >/dev/null 2>&1
}

echo "benchmarking (runs=$RUNS each)..."
bench netctl-create "$N network rm bcreate >/dev/null 2>&1 || true" "$N network create --subnet 198.18.100.0/24 bcreate"
bench netctl-rm "$N network create --subnet 198.18.100.0/24 bcreate >/dev/null 2>&1 || true" "$N network rm bcreate"
bench netctl-connect "$N network disconnect bnet $SANDBOX >/dev/null 2>&1 || true" "$N network connect bnet $SANDBOX"
bench netctl-disconnect "$N network connect bnet $SANDBOX >/dev/null 2>&1 || true" "$N network disconnect bnet $SANDBOX"
bench cni-bridge-add "env CNI_COMMAND=DEL $CNI /usr/lib/cni/bridge < $CNIDIR/conf.json >/dev/null 2>&1 || true" \
    "env CNI_COMMAND=ADD $CNI /usr/lib/cni/bridge < $CNIDIR/conf.json"
bench cni-bridge-del "env CNI_COMMAND=ADD $CNI /usr/lib/cni/bridge < $CNIDIR/conf.json >/dev/null 2>&1 || true" \
    "env CNI_COMMAND=DEL $CNI /usr/lib/cni/bridge < $CNIDIR/conf.json"
bench ip-veth-del "ip link add ncbv0 type veth peer name ncbv1 2>/dev/null || true" "ip link del ncbv0"
bench ip-bridge-del "ip link add ncbb0 type bridge 2>/dev/null; ip link set ncbb0 up; ip addr add 198.18.103.1/24 dev ncbb0 2>/dev/null || true" "ip link del ncbb0"
bench netctl-version "true" "$N --version"
in_host env CNI_COMMAND=DEL $CNI /usr/lib/cni/bridge < "$CNIDIR/conf.json" >/dev/null 2>&1 || true

# Resident memory of one connect, from the kernel's accounting.
rss=$(in_host /usr/bin/time -f %M "$N" network disconnect bnet "$SANDBOX" 2>&1 >/dev/null || true)

python3 - "$OUT" "$rss" <<'PY'
import json, sys, os
out, rss = sys.argv[1], sys.argv[2]
def median(name):
    with open(os.path.join(out, name + ".json")) as f:
        return json.load(f)["results"][0]["median"] * 1000
m = {n: median(n) for n in ["netctl-create", "netctl-rm", "netctl-connect", "netctl-disconnect",
                            "cni-bridge-add", "cni-bridge-del", "ip-veth-del", "ip-bridge-del", "netctl-version"]}
rows = [
    ("netctl network create", m["netctl-create"], "target ≤ 5 ms"),
    ("netctl network rm", m["netctl-rm"], f"{m['netctl-rm']/m['ip-bridge-del']:.2f}× ip link del of an addressed bridge"),
    ("netctl network connect", m["netctl-connect"], f"{m['netctl-connect']/m['cni-bridge-add']:.2f}× CNI bridge ADD (target ≤ 0.8×, ≤ 6 ms)"),
    ("netctl network disconnect", m["netctl-disconnect"], f"{m['netctl-disconnect']/m['ip-veth-del']:.2f}× ip link del of a veth; {m['netctl-disconnect']/m['cni-bridge-del']:.2f}× CNI bridge DEL"),
    ("CNI bridge plugin ADD", m["cni-bridge-add"], ""),
    ("CNI bridge plugin DEL", m["cni-bridge-del"], ""),
    ("ip link del (veth)", m["ip-veth-del"], "the kernel's own veth deletion, plus ip's start-up"),
    ("ip link del (bridge)", m["ip-bridge-del"], "the kernel's own bridge deletion, plus ip's start-up"),
    ("netctl --version", m["netctl-version"], "process start-up floor"),
]
print("| operation | median | note |")
print("|---|---|---|")
for name, value, note in rows:
    print(f"| {name} | {value:.2f} ms | {note} |")
if rss.strip().isdigit():
    print(f"\nnetctl network disconnect peak RSS: {int(rss)/1024:.1f} MiB")
PY
