#!/usr/bin/env bash
# The runtime: `run --rm IMAGE true` with --network none against crun and runc on the same
# bundle (the image's rootfs with `runc spec`'s config.json), netctl's OCI mode on that
# bundle, `run --rm` on a bridge network with a published port, and the memory of a
# detached container's monitor.
# crun refuses this host's hybrid cgroup layout, so the none/bundle comparison runs inside
# `unshare -m` with /sys/fs/cgroup/unified unmounted there (netctl runs in the same place,
# so all of them pay the same). The bridge run uses a "host" namespace of the benchmark's
# own, 198.18.0.0/15 addresses; everything it makes is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
RUNS=${RUNS:-60}
OUT=${OUT:-bench-results}
tag=$$
HOST=ncr-host-$tag
ROOT=$(mktemp -d /tmp/netctl-bench-root.XXXXXX)
WORK=$(mktemp -d /tmp/netctl-bench-rt.XXXXXX)
mkdir -p "$OUT"

export NETCTL_ROOT=$ROOT
cleanup() {
    for id in $("$NETCTL" ps -aq 2>/dev/null); do "$NETCTL" rm -f "$id" >/dev/null 2>&1 || true; done
    NETCTL_HOST_NETNS=$HOST "$NETCTL" network rm rtbench >/dev/null 2>&1 || true
    ip netns del "$HOST" 2>/dev/null || true
    rm -rf "$ROOT" "$WORK"
}
trap cleanup EXIT

tools/busybox-image.sh .build/test-images >/dev/null
"$NETCTL" image import --name bench/busybox .build/test-images/layout >/dev/null
BUNDLE=$WORK/bundle
mkdir -p "$BUNDLE" && (cd "$BUNDLE" && runc spec) && cp -a .build/test-images/bundle/rootfs "$BUNDLE/rootfs"
Benchmarks/oci-seccomp.py "$BUNDLE/config.json" - true
# The same bundle with netctl's default seccomp profile, which `netctl run` applies.
SECCOMP_BUNDLE=$WORK/bundle-seccomp
mkdir -p "$SECCOMP_BUNDLE" && cp -a "$BUNDLE/config.json" "$BUNDLE/rootfs" "$SECCOMP_BUNDLE/"
"$NETCTL" seccomp default > "$WORK/default.json"
Benchmarks/oci-seccomp.py "$SECCOMP_BUNDLE/config.json" "$WORK/default.json" true

echo "== run --rm … true, --network none, against crun and runc on the same bundle"
unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null || true
  hyperfine -N --style none --warmup 5 --runs $RUNS --export-json '$OUT/runtime-none.json' \
    -n crun 'crun run --bundle $BUNDLE b$tag' \
    -n 'crun, seccomp' 'crun run --bundle $SECCOMP_BUNDLE b$tag' \
    -n runc 'runc run --bundle $BUNDLE r$tag' \
    -n 'runc, seccomp' 'runc run --bundle $SECCOMP_BUNDLE r$tag' \
    -n 'netctl runtime run' '$NETCTL runtime run --bundle $BUNDLE n$tag' \
    -n 'netctl runtime run, seccomp' '$NETCTL runtime run --bundle $SECCOMP_BUNDLE n$tag' \
    -n 'netctl run --network none, unconfined' '$NETCTL run --rm --network none --security-opt seccomp=unconfined bench/busybox true' \
    -n 'netctl run --network none, seccomp' '$NETCTL run --rm --network none bench/busybox true'" >/dev/null

echo "== run --rm … true on a bridge network with a published port"
ip netns add "$HOST"; ip -n "$HOST" link set lo up
export NETCTL_HOST_NETNS=$HOST
"$NETCTL" network create --subnet 198.18.120.0/24 rtbench >/dev/null
hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$OUT/runtime-bridge.json" \
    -n 'netctl run --network bridge -p, seccomp' "$NETCTL run --rm --network rtbench -p 18080:80 bench/busybox true" >/dev/null

echo "== a detached container's monitor"
"$NETCTL" run -d --name idle bench/busybox sleep 60 >/dev/null
sleep 1.5   # the monitor gives back its start-up pages once the container has run 0.5 s
monitor=$(pgrep -f "netctl monitor --root $ROOT" | head -1)
grep -E '^(Rss|Pss|Anonymous):' "/proc/$monitor/smaps_rollup" > "$OUT/runtime-monitor.txt"
"$NETCTL" rm -f idle >/dev/null

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
def medians(name):
    with open(f"{out}/{name}.json") as f:
        return {r["command"]: r["median"] * 1000 for r in json.load(f)["results"]}
none, bridge = medians("runtime-none"), medians("runtime-bridge")
# Each against crun alike confined: with netctl's default seccomp profile or without any.
print(f"{'command':40} {'median':>9} {'vs crun':>8}")
for name, value in list(none.items()) + list(bridge.items()):
    crun = none["crun, seccomp" if "seccomp" in name else "crun"]
    print(f"{name:40} {value:7.2f} ms {value / crun:7.2f}x")
memory = dict(line.split(":") for line in open(f"{out}/runtime-monitor.txt").read().splitlines())
print("monitor of a detached container: " + ", ".join(f"{k} {v.strip()}" for k, v in memory.items()))
print("(issue's figures here: docker 202 ms none / 263 ms bridge, podman 138 / 322 ms)")
b = bridge["netctl run --network bridge -p, seccomp"]
print(f"bridge + published port: {b:.1f} ms = docker/{263 / b:.1f}, podman/{322 / b:.1f}")
PY
