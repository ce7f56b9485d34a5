#!/usr/bin/env bash
# Registries: `netctl pull` and `netctl push` of an image of 8 gzip'ed layers, ~200 MB
# unpacked (Benchmarks/registry-image.py, built once into .build/bench-images), against
# `skopeo copy` of the same image in the same run, both over plain HTTP to Debian's
# docker-registry on a free 127.0.0.1 port:
#  - pull: netctl into a fresh state root, to a runnable image (blobs verified, stored and
#    unpacked into the layer store), against skopeo's copy alone into an OCI layout and
#    into a dir: (verified blobs on disk, nothing unpacked), and against skopeo's copy
#    with umoci's unpacking of its layout after it (a runnable rootfs that way);
#  - push: the pulled image to a new repository of a fresh registry (nothing there yet),
#    netctl from its store, skopeo from the OCI layout it pulled;
#  - start-up of commands that do not touch a registry (`--version`, `image ls`), which the
#    registry code must not slow down: hyperfine medians, instruction counts (callgrind,
#    repeatable whatever else the machine does), the binary's protocol conformance records
#    (which ArgumentParser's reflection over command types scans at every start), and
#    whether libcurl gets loaded.
# Wall time and peak RSS (/usr/bin/time) of RUNS runs of each, taken in turn, medians
# compared. The page cache is left alone: the image is served once before anything is
# measured, so every run reads the registry's storage from memory alike.
# BEFORE=PATH adds start-up rows for another netctl binary (a build without registries).
# Registries, roots and layouts live in one temporary directory (on tmpfs, see BENCH_TMP),
# removed at the end with every registry stopped by its pid, however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
RUNS=${RUNS:-5}
OUT=${OUT:-bench-results}
# On tmpfs by default: this host's ext4 has no journal, and there ext4 creates an inode
# slowly next to thousands freed in the last 30 s (it skips recently deleted ones, a block
# look-up each), so on disk the unpacking's figures follow whatever else the machine
# deletes (2.3 s to 9 s for the same pull here). BENCH_TMP=/tmp measures on disk.
BENCH_TMP=${BENCH_TMP:-/dev/shm}
unset NETCTL_ROOT            # the run's own roots only, set below
WORK=$(mktemp -d "$BENCH_TMP/netctl-bench-reg.XXXXXX")
mkdir -p "$OUT"
PIDS=()                         # registries of ours still running

stop_pid() { kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
forget() { local kept=() pid; for pid in "${PIDS[@]}"; do [ "$pid" != "$1" ] && kept+=("$pid"); done; PIDS=("${kept[@]}"); }
cleanup() {
    set +e
    [ -n "${NETCTL_ROOT:-}" ] && for id in $("$NETCTL" ps -aq 2>/dev/null); do "$NETCTL" rm -f "$id" >/dev/null 2>&1; done
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM   # a signal ends the run through the EXIT trap

. Benchmarks/common.sh   # wait_for

# start_registry NAME: docker-registry with its storage in WORK/NAME on a free port; sets
# REGISTRY (127.0.0.1:PORT) and REGISTRY_PID.
start_registry() {
    local dir=$WORK/$1 port
    mkdir -p "$dir/data"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    REGISTRY=127.0.0.1:$port
    printf '%s\n' 'version: 0.1' 'log:' '  level: warn' '  accesslog:' '    disabled: true' \
        'storage:' '  filesystem:' "    rootdirectory: $dir/data" 'http:' "  addr: $REGISTRY" > "$dir/config.yml"
    docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
    REGISTRY_PID=$!
    PIDS+=("$REGISTRY_PID")
    wait_for 10 curl -sf -o /dev/null "http://$REGISTRY/v2/" || { cat "$dir/log" >&2; exit 1; }
}
stop_registry() { # NAME PID
    stop_pid "$2"; forget "$2"; rm -rf "${WORK:?}/$1"
}

# measure LABEL COMMAND…: one timed run; appends "LABEL SECONDS KILOBYTES USER SYSTEM" (wall
# time, peak RSS, CPU seconds) to the results.
measure() {
    local label=$1; shift
    if ! /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" > /dev/null 2> "$WORK/stderr"; then
        echo "$label failed: $*" >&2; cat "$WORK/stderr" >&2; exit 1
    fi
    echo "$label $(tail -1 "$WORK/time")" >> "$OUT/registry-runs.txt"
}
SKOPEO_COPY=(skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false)

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "setting up: the image, a registry serving it..."
Benchmarks/registry-image.py .build/bench-images/registry
LAYOUT=.build/bench-images/registry/layout
DIGEST=$(cat .build/bench-images/registry/ready)
start_registry source
SOURCE=$REGISTRY
IMAGE=$SOURCE/bench/app:1
"${SKOPEO_COPY[@]}" "oci:$LAYOUT:1" "docker://$IMAGE"
# Served once before anything is timed: the registry's files are in the page cache for all.
"${SKOPEO_COPY[@]}" "docker://$IMAGE" "dir:$WORK/warm" && rm -rf "$WORK/warm"
: > "$OUT/registry-runs.txt"

echo "pull: $RUNS runs of each, in turn..."
for run in $(seq "$RUNS"); do
    at=$WORK/run-$run
    mkdir "$at"
    measure 'netctl pull' env NETCTL_ROOT="$at/root" "$NETCTL" pull -q "$IMAGE"
    measure 'skopeo copy to oci:' "${SKOPEO_COPY[@]}" "docker://$IMAGE" "oci:$at/oci:1"
    # What skopeo's users run for a rootfs: its layout unpacked by umoci.
    measure 'umoci raw unpack' umoci raw unpack --image "$at/oci:1" "$at/rootfs"
    measure 'skopeo copy to dir:' "${SKOPEO_COPY[@]}" "docker://$IMAGE" "dir:$at/dir"
    if [ "$run" -gt 1 ]; then rm -rf "$WORK/run-$((run - 1))"; fi
done
# The last run's results are what the pushes send; they are checked first.
export NETCTL_ROOT=$at/root
"$NETCTL" image ls | grep -q "bench/app" || { echo "netctl image ls does not list $IMAGE after the pull" >&2; exit 1; }
runnable=no
if "$NETCTL" run --rm --network none "$IMAGE" /bin/sh -c 'test -x /usr/lib/git-core/git' >/dev/null 2>&1; then runnable=yes; fi

echo "push: $RUNS runs of each, in turn, each to a registry of its own..."
netctl_pushed=
for run in $(seq "$RUNS"); do
    start_registry "push-netctl-$run"
    "$NETCTL" tag "$IMAGE" "$REGISTRY/bench/other:1"
    measure 'netctl push' "$NETCTL" push -q "$REGISTRY/bench/other:1"
    [ -n "$netctl_pushed" ] || netctl_pushed=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY/bench/other:1")
    "$NETCTL" image rm "$REGISTRY/bench/other:1" >/dev/null
    stop_registry "push-netctl-$run" "$REGISTRY_PID"
    start_registry "push-skopeo-$run"
    measure 'skopeo copy from oci:' "${SKOPEO_COPY[@]}" "oci:$at/oci:1" "docker://$REGISTRY/bench/other:1"
    stop_registry "push-skopeo-$run" "$REGISTRY_PID"
done

echo "start-up of commands that do not touch a registry..."
rows=(-n 'netctl --version' "$NETCTL --version" -n 'netctl image ls' "$NETCTL image ls")
if [ -n "${BEFORE:-}" ]; then rows+=(-n 'before --version' "$BEFORE --version" -n 'before image ls' "$BEFORE image ls"); fi
hyperfine -N -i --style none --warmup 10 --runs 100 --export-json "$OUT/registry-startup.json" "${rows[@]}" >/dev/null 2>&1
# callgrind cannot read the debug information of a static-stdlib Swift binary: it counts
# a copy without it (the same code and data).
: > "$WORK/instructions"
for who in netctl before; do
    binary=$NETCTL; [ "$who" = before ] && binary=${BEFORE:-}
    [ -n "$binary" ] || continue
    strip -g -o "$WORK/$who.callgrind" "$binary"
    for command in --version 'image ls'; do
        # shellcheck disable=SC2086 # the command's words
        count=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/$who.callgrind" $command 2>&1 >/dev/null | sed -n 's/.*Collected : //p')
        echo "$who $command|$count" >> "$WORK/instructions"
    done
    # Each record is 4 bytes: a relative pointer to a conformance descriptor.
    size=$(readelf -SW "$binary" | sed -n 's/.*swift5_protocol_conformances *[A-Z]* *[0-9a-f]* *[0-9a-f]* *\([0-9a-f]*\).*/\1/p')
    echo "$who conformance records|$((16#$size / 4))" >> "$WORK/instructions"
done
# ld.so names every library it loads, dlopen'ed ones too.
curl_at_startup=$(LD_DEBUG=libs "$NETCTL" image ls 2>&1 >/dev/null | grep -c 'calling init:.*libcurl' || true)
curl_in_pull=$(LD_DEBUG=libs NETCTL_ROOT="$WORK/probe" "$NETCTL" pull -q "$IMAGE" 2>&1 >/dev/null | grep -c 'calling init:.*libcurl' || true)

python3 - "$OUT" "$DIGEST" "$netctl_pushed" "$runnable" "$curl_at_startup" "$curl_in_pull" "$(du -sb "$LAYOUT/blobs" | cut -f1)" \
    "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$WORK/instructions" <<'PY'
import json, statistics, sys
out, digest, pushed, runnable, curl_startup, curl_pull, size, load_start, load_end, cpus, counts = sys.argv[1:]
runs = {}
for line in open(f"{out}/registry-runs.txt"):
    label, seconds, kilobytes, user, system = line.rsplit(" ", 4)
    runs.setdefault(label, []).append((float(seconds), int(kilobytes), float(user) + float(system)))
def median(label, what):
    return statistics.median(r[what] for r in runs[label])
def rows(labels, what):   # the median of the runs' sums, when a row is two commands in a row
    return statistics.median(sum(run) for run in zip(*([r[what] for r in runs[label]] for label in labels)))
mb = int(size) / 1e6
print(f"image: 8 layers, {mb:.0f} MB compressed, manifest {digest[:19]}…, medians of {len(runs['netctl pull'])} runs; "
      f"load average {load_start} before, {load_end} after, {cpus} CPUs")
print(f"{'netctl vs peer':52} {'netctl':>8} {'peer':>8} {'ratio':>6} {'CPU netctl':>10} {'CPU peer':>8} {'RSS netctl':>10} {'RSS peer':>9}")
for ours, peer in (("netctl pull", ["skopeo copy to oci:"]), ("netctl pull", ["skopeo copy to dir:"]),
                   ("netctl pull", ["skopeo copy to oci:", "umoci raw unpack"]), ("netctl push", ["skopeo copy from oci:"])):
    t, p = median(ours, 0), rows(peer, 0)
    rss = max(median(label, 1) for label in peer)
    print(f"{ours + ' vs ' + ' + '.join(peer):52} {t:6.2f} s {p:6.2f} s {t / p:5.2f}x {median(ours, 2):8.2f} s {rows(peer, 2):6.2f} s "
          f"{median(ours, 1) / 1024:7.1f} MB {rss / 1024:6.1f} MB")
rss = max(r[1] for r in runs["netctl pull"]) / 1024
print(f"netctl pull: {mb / median('netctl pull', 0):.0f} MB/s of compressed layers, peak RSS at most {rss:.1f} MB "
      f"({'under' if rss < 64 else 'OVER'} the 64 MB bound); the pulled image runs: {runnable}")
print(f"netctl push: manifest digest on the fresh registry {'matches' if pushed == digest else 'DIFFERS: ' + pushed} the pulled one")
with open(f"{out}/registry-startup.json") as f:
    startup = {r["command"]: r["median"] * 1000 for r in json.load(f)["results"]}
print("start-up: " + ", ".join(f"{name} {value:.2f} ms" for name, value in startup.items())
      + f"; libcurl loaded by image ls: {'yes' if curl_startup != '0' else 'no'}, by pull: {'yes' if curl_pull != '0' else 'no'}")
counts = dict(line.rstrip("\n").split("|") for line in open(counts))
print("instructions: " + ", ".join(f"{name} {int(value):,}" for name, value in counts.items() if "records" not in name))
print("protocol conformance records: " + ", ".join(f"{name.split()[0]} {int(value):,}" for name, value in counts.items() if "records" in name))
PY
