#!/usr/bin/env bash
# Names on networks: netctl's resolver (netctl-dns, at 127.0.0.11 in each container) beside
# aardvark-dns (podman's resolver, Debian's 1.4, listening on the network's gateway address
# as netavark runs it) serving the same names, measured in the same run:
#  1. dnsperf from a container's sandbox, a query file of the names of NAMES containers on
#     one network, DURATION seconds and OUTSTANDING queries in flight, RUNS runs of each
#     server alternating: queries per second, average and p99 latency;
#  2. from `netctl run -d --name X …` returning to X resolving from another container on the
#     network (a client in that container's sandbox asks for X every millisecond from
#     before the run), TRIALS trials;
#  3. memory (VmRSS, and PSS from smaps_rollup) of each serving SANDBOXES containers'
#     sandboxes, after every name has been asked once from the querying container and
#     served for 3 s; on the way, how long aardvark-dns takes to answer the newest name
#     after the SIGHUP with which netavark tells it of a change.
# aardvark-dns is given the names netctl's table holds (ROOT/dns/networks/NETID), in its
# own config format (what netavark writes: gateway line, then "ID IPV4 IPV6 NAME,NAME…"),
# and answers by the asker's source address, which is the querying container's address on
# the network. netctl runs with a "host" namespace of the benchmark's own
# (NETCTL_HOST_NETNS), where its bridge, its resolver and aardvark-dns live; names netctl
# does not hold are forwarded to an NXDOMAIN stub on 198.19.53.53 in that namespace (the
# containers' --dns), never outside. Addresses come from 198.18.0.0/15 only. Containers,
# the resolver (stopped by netctl with the last sandbox; by its pid file if not),
# aardvark-dns and every process, namespace and directory of the run are removed at the
# end however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
AARDVARK=${AARDVARK:-/usr/lib/podman/aardvark-dns}
OUT=${OUT:-bench-results}
NAMES=${NAMES:-50}              # containers whose names part 1 asks for
DURATION=${DURATION:-10}        # seconds of each dnsperf run
OUTSTANDING=${OUTSTANDING:-100} # dnsperf -q
RUNS=${RUNS:-3}                 # dnsperf runs of each server, alternating
TRIALS=${TRIALS:-20}            # part 2
SANDBOXES=${SANDBOXES:-200}     # part 3
tag=$$
P=ncbd$tag                      # prefix of every namespace this run makes
HOST=$P-host
SUBNET=198.18.130.0/23 GATEWAY=198.18.130.1 UPSTREAM=198.19.53.53
ROOT=$(mktemp -d /tmp/netctl-bench-root.XXXXXX)
WORK=$(mktemp -d /tmp/netctl-bench-dns.XXXXXX)
mkdir -p "$OUT" "$WORK/aardvark"
export NETCTL_ROOT=$ROOT NETCTL_HOST_NETNS=$HOST NETCTL_DEFAULT_ADDRESS_POOLS="base=198.18.0.0/16,size=24"
PIDS=()                         # processes of ours still running: the stub, dns-wait
AARDVARK_PID=

stop_pid() { kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
forget() { local kept=() pid; for pid in "${PIDS[@]}"; do [ "$pid" != "$1" ] && kept+=("$pid"); done; PIDS=("${kept[@]}"); }
resolver_pid() { cat "$ROOT/dns/resolver.pid" 2>/dev/null || true; }
# A pid from a pid file is ours only while it still runs that program.
running() { [ -n "$1" ] && grep -qs "$2" "/proc/$1/cmdline"; }

remove_containers() {
    for id in $("$NETCTL" ps -aq 2>/dev/null); do "$NETCTL" rm -f "$id" >/dev/null 2>&1 || true; done
}
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    running "$AARDVARK_PID" aardvark-dns && kill "$AARDVARK_PID"
    remove_containers
    "$NETCTL" network rm dnsbench >/dev/null 2>&1
    local resolver
    resolver=$(resolver_pid)
    running "$resolver" netctl-dns && { sleep 1; running "$resolver" netctl-dns && kill "$resolver"; }
    ip netns del "$HOST" 2>/dev/null
    rm -rf "$ROOT" "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM   # a signal ends the run through the EXIT trap

. Benchmarks/common.sh   # wait_for
in_host() { nsenter --net="/run/netns/$HOST" "$@"; }
# nsenter enters only the network namespace of the sandbox (`ip netns exec` would also
# remount /sys in a mount namespace of its own, which the figures need not pay for).
in_sandbox() { local sandbox=$1; shift; nsenter --net="/run/netns/$sandbox" "$@"; }
run_container() { # name: a detached container on the network, forwarding to the stub
    "$NETCTL" run -d --name "$1" --network dnsbench --dns "$UPSTREAM" bench/busybox sleep 100000 >/dev/null
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "setting up: image, host namespace, upstream stub, network, $NAMES containers..."
tools/busybox-image.sh .build/test-images >/dev/null
"$NETCTL" image import --name bench/busybox .build/test-images/layout >/dev/null
gcc -O2 -o "$WORK/dns-wait" Benchmarks/dns-wait.c

ip netns add "$HOST"
ip -n "$HOST" link set lo up
# The stub, on the host namespace's loopback, answers NXDOMAIN to whatever it is asked.
ip -n "$HOST" addr add "$UPSTREAM/32" dev lo
nsenter --net="/run/netns/$HOST" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    query, peer = s.recvfrom(4096)
    if len(query) >= 12:   # the question back, QR RA and NXDOMAIN, no records
        s.sendto(query[:2] + bytes([0x80 | (query[2] & 0x01), 0x83]) + query[4:6] + bytes(6) + query[12:], peer)
' "$UPSTREAM" &
PIDS+=($!)

"$NETCTL" network create --subnet "$SUBNET" dnsbench >/dev/null
run_container query
for i in $(seq "$NAMES"); do run_container "c$i"; done

# netctl's table of the network: "SANDBOX IPV4 IPV6 NAME…" after its header line.
table() { grep -l '^netctl-dns 1 network dnsbench$' "$ROOT"/dns/networks/* | grep -v '\.remote$'; }
TABLE=$(table)
QUERY_SANDBOX=$(awk '$4 == "query" {print $1}' "$TABLE")
[ -n "$QUERY_SANDBOX" ] || { echo "no record of container \"query\" in $TABLE" >&2; exit 1; }
# aardvark-dns's config of the same names: the gateway it listens on, then a line per
# container, an id of 64 hex digits (from the sandbox's name), the addresses, the names,
# and the container's --dns (the stub), so that it forwards where netctl's resolver does.
aardvark_config() {
    { echo "$GATEWAY"
      tail -n +2 "$TABLE" | while read -r sandbox ipv4 ipv6 names; do
          [ "$ipv4" = - ] && ipv4=; [ "$ipv6" = - ] && ipv6=
          echo "$(printf %s "$sandbox" | sha256sum | cut -c1-64) $ipv4 $ipv6 ${names// /,} $UPSTREAM"
      done
    } > "$WORK/aardvark/dnsbench.new"
    mv "$WORK/aardvark/dnsbench.new" "$WORK/aardvark/dnsbench"
}
aardvark_config
# It forks a server, writes its pid to the config directory and returns once it serves.
in_host "$AARDVARK" --config "$WORK/aardvark" -p 53 run 2>/dev/null
AARDVARK_PID=$(cat "$WORK/aardvark/aardvark.pid")

# Both answer the querying container before anything is measured.
in_sandbox "$QUERY_SANDBOX" "$WORK/dns-wait" 127.0.0.11 c1 5 >/dev/null
in_sandbox "$QUERY_SANDBOX" "$WORK/dns-wait" "$GATEWAY" c1 5 >/dev/null

# ── 1. Queries per second and latency ────────────────────────────────────────────────────
# dnsperf -v prints a line per answer with its latency ("> NOERROR c1 A 0.000123"): p99 is
# taken from those lines, the average and the rate from its summary.
for i in $(seq "$NAMES"); do echo "c$i A"; done > "$WORK/queries"
echo "1. dnsperf: $NAMES names, -l $DURATION -q $OUTSTANDING, $RUNS runs of each server, alternating..."
for run in $(seq "$RUNS"); do
    for server in netctl:127.0.0.11 aardvark:$GATEWAY; do
        in_sandbox "$QUERY_SANDBOX" dnsperf -s "${server#*:}" -d "$WORK/queries" -l "$DURATION" -q "$OUTSTANDING" -v \
            > "$WORK/dnsperf-${server%%:*}-$run.txt" 2>&1
    done
done

# ── 2. From run -d returning to the name resolving ──────────────────────────────────────
echo "2. run -d → name resolvable from another container, $TRIALS trials..."
: > "$WORK/resolvable"
for trial in $(seq "$TRIALS"); do
    nsenter --net="/run/netns/$QUERY_SANDBOX" "$WORK/dns-wait" 127.0.0.11 "new$trial" 10 > "$WORK/wait" 2>&1 &
    waiter=$!
    PIDS+=($waiter)
    wait_for 5 grep -q '^ready' "$WORK/wait"
    start=$EPOCHREALTIME
    run_container "new$trial"
    end=$EPOCHREALTIME
    if wait "$waiter"; then
        echo "$start $end $(tail -1 "$WORK/wait")" >> "$WORK/resolvable"
    else
        echo "missed" >> "$WORK/resolvable"
        echo "trial $trial: $(tail -1 "$WORK/wait")" >&2
    fi
    forget "$waiter"
    "$NETCTL" rm -f "new$trial" >/dev/null
done

# ── 3. Memory with SANDBOXES containers ──────────────────────────────────────────────────
served() { ls "$ROOT/dns/sandboxes" | wc -l; }
echo "3. memory: $SANDBOXES containers on the network..."
i=0
while [ "$(served)" -lt "$SANDBOXES" ]; do i=$((i + 1)); run_container "b$i"; done
TABLE=$(table)
aardvark_config
hup=$EPOCHREALTIME
kill -HUP "$AARDVARK_PID"   # aardvark-dns reloads its config on SIGHUP, as netavark signals it
# Until it has reloaded, its answer for the new name is a forward upstream; asking every
# 50 ms, as a flood of those would hold its reload back for many seconds.
echo "$hup $(in_sandbox "$QUERY_SANDBOX" "$WORK/dns-wait" "$GATEWAY" "b$i" 30 50)" > "$WORK/aardvark-reload"
tail -n +2 "$TABLE" | awk '{print $4 " A"}' > "$WORK/all-names"
# Every name once from the querying container, to each server: all must answer NOERROR.
for server in netctl:127.0.0.11 aardvark:$GATEWAY; do
    in_sandbox "$QUERY_SANDBOX" dnsperf -s "${server#*:}" -d "$WORK/all-names" -n 1 -q 10 \
        > "$WORK/all-${server%%:*}.txt" 2>&1
done
# Then each serves the lot for a few seconds, so that what it holds is what serving takes.
for server in netctl:127.0.0.11 aardvark:$GATEWAY; do
    in_sandbox "$QUERY_SANDBOX" dnsperf -s "${server#*:}" -d "$WORK/all-names" -l 3 -q "$OUTSTANDING" \
        > "$WORK/load-${server%%:*}.txt" 2>&1
done
RESOLVER=$(resolver_pid)
memory() { # pid → "VmRSS PSS" in kB
    echo "$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status") $(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup")"
}
echo "$(served) $(wc -l < "$WORK/all-names") $(memory "$RESOLVER") $(memory "$AARDVARK_PID")" > "$WORK/memory"

# The resolver goes 30 s (its --linger) after the last sandbox it serves.
remove_containers
if wait_for 40 sh -c "! grep -qs netctl-dns /proc/$RESOLVER/cmdline"; then
    echo "exited" > "$WORK/resolver-exit"
else
    echo "still running" > "$WORK/resolver-exit"
fi

python3 - "$OUT" "$WORK" "$NAMES" "$DURATION" "$OUTSTANDING" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" <<'PY'
import glob, json, os, re, statistics, sys
out, work, names, duration, outstanding = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
load_start, load_end, cpus = sys.argv[6], sys.argv[7], sys.argv[8]
results = {"load": [load_start, load_end]}

def dnsperf(path):
    text = open(path).read()
    field = lambda name: float(re.search(name + r":\s+([0-9.]+)", text).group(1))
    latencies = sorted(float(line.split()[-1]) for line in text.splitlines() if line.startswith("> "))
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    lost = int(re.search(r"Queries lost:\s+(\d+)", text).group(1))
    codes = re.search(r"Response codes:\s+(.*)", text)
    return {"qps": field("Queries per second"), "avg_ms": field(r"Average Latency \(s\)") * 1000,
            "p99_ms": p99 * 1000, "lost": lost, "codes": codes.group(1) if codes else ""}

runs = {s: [dnsperf(p) for p in sorted(glob.glob(f"{work}/dnsperf-{s}-*.txt"))] for s in ("netctl", "aardvark")}
results["dnsperf"] = runs
med = {s: {k: statistics.median(r[k] for r in runs[s]) for k in ("qps", "avg_ms", "p99_ms")} for s in runs}
rows = []
def row(metric, n, a, unit, fmt, target):
    ratio = f"{n / a:.2f}×" if isinstance(n, float) and isinstance(a, float) and a else "—"
    show = lambda v: (fmt.format(v) + unit) if isinstance(v, float) else v
    rows.append((metric, show(n), show(a), ratio, target))
count = len(runs["netctl"])
row(f"queries/s, dnsperf -l {duration} -q {outstanding}, {names} names (median of {count})",
    med["netctl"]["qps"], med["aardvark"]["qps"], "", "{:.0f}", "≥ aardvark-dns's")
row("average latency (median of runs)", med["netctl"]["avg_ms"], med["aardvark"]["avg_ms"], " ms", "{:.2f}", "")
row("p99 latency (from dnsperf -v, median of runs)", med["netctl"]["p99_ms"], med["aardvark"]["p99_ms"], " ms", "{:.2f}", "≤ aardvark-dns's")
row("queries lost (all runs)", str(sum(r["lost"] for r in runs["netctl"])), str(sum(r["lost"] for r in runs["aardvark"])),
    "", "", "0")

trials = [line.split() for line in open(f"{work}/resolvable")]
done = [tuple(map(float, t)) for t in trials if len(t) == 4]
missed = len(trials) - len(done)
delays = [(reply - end) * 1000 for start, end, reply, queries in done]
runs_ms = [(end - start) * 1000 for start, end, reply, queries in done]
results["resolvable_ms"], results["run_ms"], results["resolvable_missed"] = delays, runs_ms, missed
since_start = [(reply - start) * 1000 for start, end, reply, queries in done]
results["resolvable_since_start_ms"] = since_start
if delays:
    # Negative: the name resolved before run -d returned (CNM tells the resolver at connect).
    rows.append((f"name resolves from another container, after run -d returns (median of {len(delays)}; < 0: before)",
                 f"{statistics.median(delays):.1f} ms", "—", "—",
                 "≤ 10 ms" + (f"; {missed} never resolved" if missed else "")))
    rows.append(("… the latest of the trials", f"{max(delays):.1f} ms", "—", "—", "asked every 1 ms"))
    rows.append(("… after run -d started (median)", f"{statistics.median(since_start):.1f} ms", "—", "—",
                 f"run -d itself took {statistics.median(runs_ms):.0f} ms (median)"))

served, asked, n_rss, n_pss, a_rss, a_pss = map(int, open(f"{work}/memory").read().split())
results["memory_kb"] = {"sandboxes": served, "netctl": {"rss": n_rss, "pss": n_pss}, "aardvark": {"rss": a_rss, "pss": a_pss}}
answered = {}
for s in ("netctl", "aardvark"):
    text = open(f"{work}/all-{s}.txt").read()
    m = re.search(r"NOERROR (\d+)", text)
    answered[s] = int(m.group(1)) if m else 0
    codes = re.search(r"Response codes:\s+(.*)", text)
    results[f"all_names_codes_{s}"] = codes.group(1) if codes else text[-400:]
results["all_names_answered"] = answered
load = {s: dnsperf(f"{work}/load-{s}.txt") for s in ("netctl", "aardvark")}
results["dnsperf_all_names"] = load
row(f"queries/s, all {asked} names, dnsperf -l 3 (one run)", load["netctl"]["qps"], load["aardvark"]["qps"], "", "{:.0f}", "")
hup, reloaded, _ = open(f"{work}/aardvark-reload").read().split()
results["aardvark_sighup_to_new_name_ms"] = (float(reloaded) - float(hup)) * 1000
rows.append((f"aardvark-dns: SIGHUP with {asked} names → the newest answered", "—",
             f"{results['aardvark_sighup_to_new_name_ms']:.0f} ms", "—", "how netavark updates it; asked every 50 ms"))
row(f"VmRSS serving {served} containers' sandboxes", n_rss / 1024, a_rss / 1024, " MiB", "{:.1f}",
    f"netctl ≤ 10 MB (it holds {n_rss * 1024 / 1e6:.1f} MB)")
row("PSS (smaps_rollup), same", n_pss / 1024, a_pss / 1024, " MiB", "{:.1f}", "")
rows.append((f"of their {asked} names, answered NOERROR", str(answered["netctl"]), str(answered["aardvark"]), "—", f"{asked}"))
exit_state = open(f"{work}/resolver-exit").read().strip()
results["resolver_after_last_container"] = exit_state

with open(os.path.join(out, "dns.json"), "w") as f:
    json.dump(results, f, indent=1)
print(f"load average {load_start} at the start, {load_end} at the end, {cpus} CPUs\n")
print("| metric | netctl | aardvark-dns | ratio | target |")
print("|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print(f"\nthe resolver after the last container was removed: {exit_state}")
PY
