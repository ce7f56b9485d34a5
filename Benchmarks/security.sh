#!/usr/bin/env bash
# Confinement: compiling netctl's built-in default seccomp profile and the size of its BPF;
# the cost of a getppid(2) syscall unconfined, under netctl's compiled default, and under
# crun and runc with the same profile (runtime-spec form); and `run` (the default profile)
# against `run --security-opt seccomp=unconfined`.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
RUNS=${RUNS:-40}
OUT=${OUT:-bench-results}
tag=$$
ROOT=$(mktemp -d /tmp/netctl-bench-root.XXXXXX)
WORK=$(mktemp -d /tmp/netctl-bench-sec.XXXXXX)
mkdir -p "$OUT"
export NETCTL_ROOT=$ROOT
cleanup() {
    for id in $("$NETCTL" ps -aq 2>/dev/null); do "$NETCTL" rm -f "$id" >/dev/null 2>&1 || true; done
    rm -rf "$ROOT" "$WORK"
}
trap cleanup EXIT

tools/busybox-image.sh .build/test-images >/dev/null
"$NETCTL" image import --name bench/busybox .build/test-images/layout >/dev/null
mkdir -p "$WORK/probe"
PROFILE=$WORK/default.json
"$NETCTL" seccomp default > "$PROFILE"
gcc -static -O2 -o "$WORK/probe/loop" Benchmarks/syscall-loop.c

echo "== compiling the default profile"
"$NETCTL" seccomp compile --format bpf > "$WORK/filter.bpf"
hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$OUT/security-compile.json" \
    -n 'netctl --version' "$NETCTL --version" \
    -n 'netctl seccomp compile' "$NETCTL seccomp compile --format bpf" >/dev/null

echo "== per-syscall cost: getppid (allowed outright) and personality(0xffffffff) (allowed by an argument check)"
loop() { "$NETCTL" run --rm -v "$WORK/probe:/probe" "$@" bench/busybox /probe/loop 3000000 "$MODE"; }
# crun and runc on a bundle with the same profile in runtime-spec form (for runc spec's
# capabilities), one bundle per syscall.
for MODE in getppid personality; do
    BUNDLE=$WORK/bundle-$MODE
    mkdir -p "$BUNDLE" && (cd "$BUNDLE" && runc spec) && cp -a .build/test-images/bundle/rootfs "$BUNDLE/rootfs" && cp "$WORK/probe/loop" "$BUNDLE/rootfs/loop"
    Benchmarks/oci-seccomp.py "$BUNDLE/config.json" "$PROFILE" /loop 3000000 "$MODE"
    # This VM's timings drift by ±20 %: the five are taken in turn, nine times, and their
    # medians compared.
    for i in $(seq 9); do
        loop --security-opt seccomp=unconfined >> "$WORK/$MODE-unconfined"
        loop >> "$WORK/$MODE-netctl"
        unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun run --bundle $BUNDLE c$tag" >> "$WORK/$MODE-crun"
        runc run --bundle "$BUNDLE" "r$tag" >> "$WORK/$MODE-runc"
        "$NETCTL" runtime run --bundle "$BUNDLE" "n$tag" >> "$WORK/$MODE-bundle"
    done
done
median() { sort -n "$WORK/$1" | sed -n 5p; }
timings=$(for MODE in getppid personality; do for who in unconfined netctl crun runc bundle; do echo "$MODE-$who=$(median "$MODE-$who")"; done; done)

echo "== run with the default profile and unconfined"
hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$OUT/security-run.json" \
    -n 'run unconfined' "$NETCTL run --rm --security-opt seccomp=unconfined bench/busybox true" \
    -n 'run with the profile' "$NETCTL run --rm bench/busybox true" >/dev/null

python3 - "$OUT" "$(wc -c < "$WORK/filter.bpf")" $timings <<'PY'
import json, sys
out, size = sys.argv[1], int(sys.argv[2])
t = {k: float(v) for k, v in (a.split("=") for a in sys.argv[3:])}
def medians(name):
    with open(f"{out}/{name}.json") as f:
        return {r["command"]: r["median"] * 1000 for r in json.load(f)["results"]}
compile, run = medians("security-compile"), medians("security-run")
print(f"default profile: compile {compile['netctl seccomp compile'] - compile['netctl --version']:.2f} ms above start-up "
      f"({compile['netctl seccomp compile']:.2f} ms whole command), BPF {size} bytes = {size // 8} instructions")
for mode in ("getppid", "personality"):
    base = t[f"{mode}-unconfined"]
    added = {who: t[f"{mode}-{who}"] - base for who in ("netctl", "crun", "runc", "bundle")}
    print(f"{mode}: unconfined {base:.1f} ns; added by the same profile under netctl run +{added['netctl']:.1f} ns, "
          f"netctl runtime run +{added['bundle']:.1f}, crun +{added['crun']:.1f}, runc +{added['runc']:.1f}")
print(f"run --rm true: unconfined {run['run unconfined']:.2f} ms, with the default profile {run['run with the profile']:.2f} ms "
      f"(+{run['run with the profile'] - run['run unconfined']:.2f} ms; target within 2 ms)")
PY
