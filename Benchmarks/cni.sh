#!/usr/bin/env bash
# CNI ADD and DEL through netctl-cni against the reference bridge plugin with host-local
# IPAM, in the same run, on subnets of the same size: whole-process medians (hyperfine).
# Everything runs inside namespaces of the benchmark's own, with 198.18.0.0/15 addresses,
# and is removed at the end however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
PLUGIN=${PLUGIN:-$(dirname "$NETCTL")/netctl-cni}
RUNS=${RUNS:-40}
OUT=${OUT:-bench-results}
tag=$$
HOST=ncb-cnihost-$tag C1=ncb-cni1-$tag C2=ncb-cni2-$tag
ROOT=$(mktemp -d /tmp/netctl-bench-root.XXXXXX)
CNIDIR=$(mktemp -d /tmp/netctl-bench-cni.XXXXXX)
mkdir -p "$OUT"

cleanup() {
    ip netns del "$C1" 2>/dev/null || true
    ip netns del "$C2" 2>/dev/null || true
    ip netns del "$HOST" 2>/dev/null || true
    rm -rf "$ROOT" "$CNIDIR"
}
trap cleanup EXIT

ip netns add "$HOST"
ip -n "$HOST" link set lo up
ip netns add "$C1"
ip netns add "$C2"
# The plugins run in the host namespace, as a runtime runs them there (nsenter: only the
# network namespace).
in_host() { nsenter --net="/run/netns/$HOST" "$@"; }
in_host env NETCTL_ROOT="$ROOT" "$NETCTL" network create --subnet 198.18.104.0/24 cnet >/dev/null

cat > "$CNIDIR/netctl.json" <<JSON
{"cniVersion":"1.0.0","name":"ncbench","type":"netctl-cni","network":"cnet","root":"$ROOT"}
JSON
cat > "$CNIDIR/bridge.json" <<JSON
{"cniVersion":"1.0.0","name":"ncbenchref","type":"bridge","bridge":"cni-ncb1","isGateway":true,
 "ipam":{"type":"host-local","subnet":"198.18.105.0/24","dataDir":"$CNIDIR/ipam"}}
JSON
OURS="CNI_CONTAINERID=ncb1 CNI_NETNS=/run/netns/$C1 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni"
THEIRS="CNI_CONTAINERID=ncb2 CNI_NETNS=/run/netns/$C2 CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni"

bench() { # name, prepare, command
    in_host hyperfine --style none --warmup 3 --runs "$RUNS" --export-json "$OUT/$1.json" \
        --prepare "$2" "$3" >/dev/null 2>&1
}

echo "benchmarking CNI ADD/DEL (runs=$RUNS each)..."
bench cni-bridge-add "env CNI_COMMAND=DEL $THEIRS /usr/lib/cni/bridge < $CNIDIR/bridge.json >/dev/null 2>&1 || true" \
    "env CNI_COMMAND=ADD $THEIRS /usr/lib/cni/bridge < $CNIDIR/bridge.json"
bench netctl-cni-add "env CNI_COMMAND=DEL $OURS $PLUGIN < $CNIDIR/netctl.json >/dev/null 2>&1 || true" \
    "env CNI_COMMAND=ADD $OURS $PLUGIN < $CNIDIR/netctl.json"
bench cni-bridge-del "env CNI_COMMAND=ADD $THEIRS /usr/lib/cni/bridge < $CNIDIR/bridge.json >/dev/null 2>&1 || true" \
    "env CNI_COMMAND=DEL $THEIRS /usr/lib/cni/bridge < $CNIDIR/bridge.json"
bench netctl-cni-del "env CNI_COMMAND=ADD $OURS $PLUGIN < $CNIDIR/netctl.json >/dev/null 2>&1 || true" \
    "env CNI_COMMAND=DEL $OURS $PLUGIN < $CNIDIR/netctl.json"
bench netctl-cni-version "true" "env CNI_COMMAND=VERSION $PLUGIN < /dev/null"
in_host env CNI_COMMAND=DEL $THEIRS /usr/lib/cni/bridge < "$CNIDIR/bridge.json" >/dev/null 2>&1 || true
in_host env CNI_COMMAND=DEL $OURS "$PLUGIN" < "$CNIDIR/netctl.json" >/dev/null 2>&1 || true

python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def load(name):
    with open(os.path.join(out, name + ".json")) as f:
        return json.load(f)["results"][0]
names = ["cni-bridge-add", "netctl-cni-add", "cni-bridge-del", "netctl-cni-del", "netctl-cni-version"]
m = {n: load(n)["median"] * 1000 for n in names}
# CPU time (user + system, means): what each costs the machine, whatever else runs on it.
cpu = {n: (load(n)["user"] + load(n)["system"]) * 1000 for n in names}
rows = [
    ("netctl-cni ADD", m["netctl-cni-add"], f"{m['netctl-cni-add']/m['cni-bridge-add']:.2f}× bridge + host-local ADD (target ≤ 0.8×)"),
    ("netctl-cni DEL", m["netctl-cni-del"], f"{m['netctl-cni-del']/m['cni-bridge-del']:.2f}× bridge + host-local DEL"),
    ("bridge plugin ADD", m["cni-bridge-add"], "reference: /usr/lib/cni/bridge with host-local"),
    ("bridge plugin DEL", m["cni-bridge-del"], ""),
    ("netctl-cni VERSION", m["netctl-cni-version"], "process start-up floor"),
]
for name, value, note in rows:
    print(f"{name:22} {value:7.2f} ms  {note}")
print(f"CPU time: netctl-cni ADD {cpu['netctl-cni-add']:.2f} ms = {cpu['netctl-cni-add']/cpu['cni-bridge-add']:.2f}× bridge ADD ({cpu['cni-bridge-add']:.2f} ms); "
      f"DEL {cpu['netctl-cni-del']:.2f} ms = {cpu['netctl-cni-del']/cpu['cni-bridge-del']:.2f}× bridge DEL ({cpu['cni-bridge-del']:.2f} ms); "
      f"VERSION {cpu['netctl-cni-version']:.2f} ms")
PY
