#!/usr/bin/env bash
# Overlay networks across hosts, each figure beside its peer measured in the same run:
#  1. TCP throughput (iperf3) between sandboxes on two hosts over a netctl overlay, against
#     a VXLAN path built by hand with `ip` on the same kind of underlay;
#  2. convergence: from the start of `network connect --ip` on host A to the first echo
#     reply a sandbox on host B gets from that address, with agents running;
#  3. `netctl lab up` of 3 hosts × 2 sandboxes (when this netctl has `lab`);
#  4. fifty hosts with agents: when each agent has programmed one more endpoint, and what
#     each agent holds in memory.
# Hosts are network namespaces on an underlay segment (a bridge in a switch namespace),
# netctl runs here with NETCTL_HOST_NETNS, as the overlay tests do, and etcd listens on
# 127.0.0.1. Addresses come from 198.18.0.0/15 only. Every namespace, process and directory
# the run makes is removed at the end however it ends; processes are stopped by their pid.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
OUT=${OUT:-bench-results}
HOSTS=${HOSTS:-50}            # hosts of part 4
TRIALS=${TRIALS:-3}           # iperf3 runs of each path, alternating
CONVERGE_RUNS=${CONVERGE_RUNS:-15}
LAB_RUNS=${LAB_RUNS:-3}
tag=$$
P=ncbo$tag                    # prefix of every namespace this run makes
WORK=$(mktemp -d /tmp/netctl-bench-overlay.XXXXXX)
mkdir -p "$OUT" "$WORK/roots" "$WORK/logs"
PIDS=()                       # processes of ours still running: agents, iperf3, ping, etcd
SANDBOXES=()                  # "HOST SANDBOX" pairs made with netctl
LAB_DIR=

pool="base=198.18.0.0/16,size=24 base=2001:db8:1000::/48,size=64"
underlay_address() { echo "198.18.200.$((11 + $1))"; }   # host i on the netctl underlay
ETCD_PORT= ETCD_PEER_PORT=

# What makes netctl run as host I: its host namespace, state root, node name and VTEP.
host_env() {
    HOST_ENV=(NETCTL_ROOT="$WORK/roots/h$1" NETCTL_HOST_NETNS="$P-h$1" NETCTL_DEFAULT_ADDRESS_POOLS="$pool"
              NETCTL_CLUSTER_STORE="etcd://127.0.0.1:$ETCD_PORT" NETCTL_NODE_NAME="node$1"
              NETCTL_ADVERTISE_ADDR="$(underlay_address "$1")")
}
on() { local host=$1; shift; host_env "$host"; env "${HOST_ENV[@]}" "$NETCTL" "$@"; }

stop_pid() { kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
# A process of ours that ended leaves the list, so no pid the kernel hands out again is hit.
forget() { local kept=() pid; for pid in "${PIDS[@]}"; do [ "$pid" != "$1" ] && kept+=("$pid"); done; PIDS=("${kept[@]}"); }

cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    # Sandboxes leave their overlays (and their hosts' overlay namespaces) while etcd is up.
    for pair in "${SANDBOXES[@]}"; do
        set -- $pair
        on "$1" sandbox rm "$2" >/dev/null 2>&1
        ip netns del "$2" 2>/dev/null
    done
    [ -n "$LAB_DIR" ] && "$NETCTL" lab down --dir "$LAB_DIR" "$LAB_NAME" >/dev/null 2>&1
    [ -n "$ETCD_PID" ] && stop_pid "$ETCD_PID"
    # What a failed command may have left: overlay namespaces of our roots (ncov-ROOTID-…).
    for root in "$WORK"/roots/*/root.json; do
        [ -f "$root" ] || continue
        id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"][:8])' "$root")
        for ns in $(ip netns list | awk '{print $1}' | grep "^ncov-$id-"); do ip netns del "$ns"; done
    done
    for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done
    rm -rf "$WORK"
}
ETCD_PID=
LAB_NAME=
trap cleanup EXIT
trap "exit 130" INT TERM   # a signal ends the run through the EXIT trap

# ── The underlays ─────────────────────────────────────────────────────────────────────
# netctl's: HOSTS host namespaces on one segment, 198.18.200.0/24, MTU 1500.
#   ip link add hostI netns SWITCH master seg0 type veth peer name underlay0 netns HOST-I
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "building $HOSTS hosts and etcd..."
ip netns add "$P-sw"
ip -n "$P-sw" link add seg0 type bridge
ip -n "$P-sw" link set seg0 up
make_host() { # index, switch namespace, host namespace, address
    ip netns add "$3"
    ip -n "$3" link set lo up
    ip -n "$2" link add "host$1" type veth peer name underlay0 netns "$3"
    ip -n "$2" link set "host$1" master seg0 up
    ip -n "$3" addr add "$4/24" dev underlay0
    ip -n "$3" link set underlay0 up
}
for i in $(seq 0 $((HOSTS - 1))); do make_host "$i" "$P-sw" "$P-h$i" "$(underlay_address "$i")"; done

# etcd on loopback, as the tests run it (no TLS: the lab's part measures TLS).
read -r ETCD_PORT ETCD_PEER_PORT < <(python3 -c '
import socket; s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
etcd --name bench --data-dir "$WORK/etcd" --logger zap --log-level warn \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "bench=http://127.0.0.1:$ETCD_PEER_PORT" --experimental-watch-progress-notify-interval 2s \
    > "$WORK/logs/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 100); do
    ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD_PORT" endpoint health >/dev/null 2>&1 && break
    sleep 0.1
done
ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD_PORT" endpoint health >/dev/null 2>&1

AGENT_PIDS=()
start_agent() { # host; env execs netctl, so $! is the agent's own pid
    host_env "$1"
    env "${HOST_ENV[@]}" "$NETCTL" agent --lease-ttl 10 > "$WORK/logs/agent$1.log" 2>&1 &
    AGENT_PIDS[$1]=$!
    PIDS+=($!)
}
. Benchmarks/common.sh   # wait_for
sandbox() { # host, name: `netctl sandbox create`, remembered for cleanup
    on "$1" sandbox create "$2" >/dev/null
    SANDBOXES+=("$1 $2")
}
remove_sandbox() { # host, name
    on "$1" sandbox rm "$2" >/dev/null
    local kept=()
    for pair in "${SANDBOXES[@]}"; do [ "$pair" != "$1 $2" ] && kept+=("$pair"); done
    SANDBOXES=("${kept[@]}")
}

# ── 1. Throughput ────────────────────────────────────────────────────────────────────────
# netctl: overlay "bench" on hosts 0 and 1, a sandbox on each.
start_agent 0; start_agent 1
on 0 network create -d overlay --subnet 198.19.100.0/24 bench >/dev/null
sandbox 0 "$P-a"; sandbox 1 "$P-b"
on 0 network connect --ip 198.19.100.10 bench "$P-a" >/dev/null
on 1 network connect --ip 198.19.100.11 bench "$P-b" >/dev/null
wait_for 10 ip netns exec "$P-a" ping -n -q -c 1 -W 1 198.19.100.11 >/dev/null

# The peer, by hand: two hosts on a segment of their own (198.19.201.0/24), in each a VTEP
# with learning off, a bridge and a veth into a "container", the same MTU (1500 − 50), and
# the remote container as a static FDB and neighbour entry — what netctl programs.
ip netns add "$P-rsw"
ip -n "$P-rsw" link add seg0 type bridge
ip -n "$P-rsw" link set seg0 up
for i in 0 1; do
    make_host "$i" "$P-rsw" "$P-r$i" "198.19.201.1$i"
    ip netns add "$P-rc$i"
    ip -n "$P-rc$i" link set lo up
    # ip link add vx0 type vxlan id 42 local VTEP dstport 4789 nolearning proxy
    ip -n "$P-r$i" link add vx0 mtu 1450 type vxlan id 42 local "198.19.201.1$i" dstport 4789 nolearning proxy
    ip -n "$P-r$i" link add br0 mtu 1450 type bridge
    ip -n "$P-r$i" link set vx0 master br0 up
    ip -n "$P-r$i" link set br0 up
    ip -n "$P-r$i" link add veth0 mtu 1450 type veth peer name eth0 netns "$P-rc$i" mtu 1450 address "02:42:c6:13:96:1$i"
    ip -n "$P-r$i" link set veth0 master br0 up
    ip -n "$P-rc$i" addr add "198.19.150.1$i/24" dev eth0
    ip -n "$P-rc$i" link set eth0 up
done
for i in 0 1; do
    j=$((1 - i))
    bridge -n "$P-r$i" fdb append "02:42:c6:13:96:1$j" dev vx0 dst "198.19.201.1$j" self permanent
    ip -n "$P-r$i" neigh replace "198.19.150.1$j" lladdr "02:42:c6:13:96:1$j" dev vx0 nud permanent
done
wait_for 10 ip netns exec "$P-rc0" ping -n -q -c 1 -W 1 198.19.150.11 >/dev/null

iperf() { # client namespace, server namespace, server address → Gbit/s received
    ip netns exec "$2" iperf3 -s -1 -B "$3" -p 5201 >/dev/null 2>&1 &
    local server=$!
    PIDS+=($server)
    wait_for 5 sh -c "ip netns exec $2 ss -Htln 'sport = :5201' | grep -q ."
    ip netns exec "$1" iperf3 -c "$3" -p 5201 -t 5 -J > "$WORK/iperf.json"
    wait "$server" 2>/dev/null || true
    forget "$server"
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9)' "$WORK/iperf.json"
}
echo "1. throughput: iperf3 -t 5, $TRIALS runs of each path, alternating..."
: > "$WORK/throughput"
for trial in $(seq "$TRIALS"); do
    echo "netctl $(iperf "$P-a" "$P-b" 198.19.100.11)" >> "$WORK/throughput"
    echo "raw $(iperf "$P-rc0" "$P-rc1" 198.19.150.11)" >> "$WORK/throughput"
done
# One difference the by-hand path lacks: netctl's firewall has NAT chains in the host
# namespace (for the gateway bridge), so conntrack follows the VXLAN flows there too.
count_tracked() { ip netns exec "$1" sh -c "grep -c 'dport=4789' /proc/net/nf_conntrack 2>/dev/null || true"; }
echo "$(count_tracked "$P-h0") $(count_tracked "$P-r0")" > "$WORK/tracked"
for i in 0 1; do ip netns del "$P-rc$i"; ip netns del "$P-r$i"; done
ip netns del "$P-rsw"

# ── 2. Convergence ───────────────────────────────────────────────────────────────────────
# Host B's sandbox pings an address no endpoint has yet, every 2 ms; then host A connects
# a sandbox with that address. The figure is the first reply's arrival as ping stamps it
# (-D: the kernel's receive timestamp, CLOCK_REALTIME, in µs) less the moment just before
# netctl started (bash's $EPOCHREALTIME, the same clock, read without forking): netctl's
# start-up, its etcd transaction, B's agent hearing of it and programming its FDB and
# neighbour entries, and one round trip. ping is stopped once the reply is in its output
# (line-buffered), so how quickly we notice does not enter the figure; it sends at most
# 1,500 requests (3 s).
# Linux asks again for an unanswered ARP only once a second (retrans_time), and after 3
# tries fails the address, which makes ping give up. Left so, the figure would be that
# timer's phase, not the overlay's; so B's sandbox asks every 2 ms, as often as it pings,
# for up to 1,500 tries, and forgets the address between runs so each run resolves it anew.
# A's sandbox has no endpoint before the connect, so each run builds A's part of the
# overlay (its namespace, bridge and VTEP) from nothing, the slowest case.
echo "2. convergence: $CONVERGE_RUNS connects on host A, pinged from host B every 2 ms..."
sandbox 0 "$P-c"
ip netns exec "$P-b" sysctl -qw net.ipv4.neigh.eth0.retrans_time_ms=2 net.ipv4.neigh.eth0.mcast_solicit=1500
remove_sandbox 0 "$P-a"   # host A has no endpoint on "bench" before each connect
: > "$WORK/convergence"
replied() { grep -q ' bytes from 198.19.100.20' "$WORK/ping"; }
for run in $(seq "$CONVERGE_RUNS"); do
    ip -n "$P-b" neigh flush to 198.19.100.20 2>/dev/null || true
    ip netns exec "$P-b" stdbuf -oL ping -D -n -i 0.002 -c 1500 198.19.100.20 > "$WORK/ping" 2>&1 &
    pinger=$!
    PIDS+=($pinger)
    sleep 0.1   # ping is asking before the connect starts
    start=$EPOCHREALTIME
    host_env 0   # /usr/bin/time adds one exec; it tells what the connect spent on CPU
    /usr/bin/time -f "%U %S" -o "$WORK/cpu" env "${HOST_ENV[@]}" "$NETCTL" network connect --ip 198.19.100.20 bench "$P-c" >/dev/null
    end=$EPOCHREALTIME
    wait_for 4 replied || true
    stop_pid "$pinger"; forget "$pinger"
    reply=$(sed -n 's/^\[\([0-9.]*\)\] .* bytes from 198.19.100.20.*/\1/p' "$WORK/ping" | head -1)
    if [ -n "$reply" ]; then
        echo "$start $end $reply $(tail -1 "$WORK/cpu")" >> "$WORK/convergence"
    else
        echo "missed" >> "$WORK/convergence"
        echo "run $run: no reply from 198.19.100.20; ping said: $(grep -v '^PING' "$WORK/ping" | head -3)" >&2
    fi
    on 0 network disconnect bench "$P-c" >/dev/null
done
remove_sandbox 0 "$P-c"; remove_sandbox 1 "$P-b"
on 0 network rm bench >/dev/null

# ── 3. lab up ────────────────────────────────────────────────────────────────────────────
: > "$WORK/lab"
if "$NETCTL" --help | grep -q '^  lab '; then
    echo "3. lab up of 3 hosts × 2 sandboxes, $LAB_RUNS runs..."
    LAB_NAME=nb$((tag % 100000))   # a lab name has at most 8 characters
    LAB_DIR="$WORK/lab-state"
    sed "s/^name: .*/name: $LAB_NAME/" Benchmarks/overlay-lab.yaml > "$WORK/lab.yaml"
    for run in $(seq "$LAB_RUNS"); do
        start=$EPOCHREALTIME
        "$NETCTL" lab up --dir "$LAB_DIR" "$WORK/lab.yaml" > "$WORK/logs/lab-up.log" 2>&1
        end=$EPOCHREALTIME
        echo "$start $end" >> "$WORK/lab"
        "$NETCTL" lab down --dir "$LAB_DIR" "$LAB_NAME" > "$WORK/logs/lab-down.log" 2>&1
    done
    LAB_DIR=
else
    echo "3. lab up: skipped, this netctl has no lab command"
fi

# ── 4. Fifty hosts ───────────────────────────────────────────────────────────────────────
# Every host has an agent and one endpoint on overlay "fifty"; then host 0 connects one
# more. Each agent logs "network fifty: N remote endpoints (+A -R) as of revision REV"
# with its clock (RFC 3339, ns) when it changes the network's entries: the first "+1" line
# after the connect started, less that start, is when that agent had programmed it.
echo "4. $HOSTS hosts with agents..."
for i in $(seq 2 $((HOSTS - 1))); do start_agent "$i"; done
on 0 network create -d overlay --subnet 198.19.104.0/24 fifty >/dev/null
for i in $(seq 0 $((HOSTS - 1))); do
    sandbox "$i" "$P-f$i"
    on "$i" network connect fifty "$P-f$i" >/dev/null
done
# Every host forwards to the other HOSTS−1 before the measured connect: its overlay
# namespace (ncov-ROOTID-…) holds that many remote FDB entries (bridge fdb show … dst VTEP).
overlay_namespace() { # host
    local id
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"][:8])' "$WORK/roots/h$1/root.json")
    ip netns list | awk '{print $1}' | grep "^ncov-$id-"
}
for i in $(seq 0 $((HOSTS - 1))); do OVERLAY_NS[$i]=$(overlay_namespace "$i"); done
programmed_all() {
    local i
    for i in $(seq 0 $((HOSTS - 1))); do
        [ "$(bridge -n "${OVERLAY_NS[$i]}" fdb show | grep -c ' dst ')" = $((HOSTS - 1)) ] || return 1
    done
}
wait_for 60 programmed_all
sandbox 0 "$P-new"
sleep 1
# What the agents spent on CPU for it: the first field of /proc/PID/schedstat (ns on CPU).
agents_cpu() { local i sum=0; for i in $(seq 1 $((HOSTS - 1))); do sum=$((sum + $(cut -d' ' -f1 "/proc/${AGENT_PIDS[$i]}/schedstat"))); done; echo $sum; }
cpu_before=$(agents_cpu)
start=$EPOCHREALTIME
on 0 network connect fifty "$P-new" >/dev/null
end=$EPOCHREALTIME
seen_all() {
    local i
    for i in $(seq 1 $((HOSTS - 1))); do
        grep -q "network fifty: $HOSTS remote endpoints (+1 -0)" "$WORK/logs/agent$i.log" || return 1
    done
}
wait_for 30 seen_all
cpu_after=$(agents_cpu)
: > "$WORK/memory"
for i in $(seq 0 $((HOSTS - 1))); do
    pid=${AGENT_PIDS[$i]}
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
    echo "$rss $pss" >> "$WORK/memory"
done

python3 - "$OUT" "$HOSTS" "$start" "$end" "$WORK" "$((cpu_after - cpu_before))" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" <<'PY'
import datetime, json, os, re, statistics, sys
out, hosts, start, end, work = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
agents_cpu_ms, load_start, load_end, cpus = int(sys.argv[6]) / 1e6, sys.argv[7], sys.argv[8], sys.argv[9]
results = {}

def ms(x): return f"{x:.0f} ms" if x >= 10 else f"{x:.1f} ms"
rows = []

trials = [line.split() for line in open(f"{work}/throughput")]
if trials:
    netctl = [float(v) for k, v in trials if k == "netctl"]
    raw = [float(v) for k, v in trials if k == "raw"]
    results["throughput_gbits"] = {"netctl": netctl, "raw": raw}
    n, r = statistics.median(netctl), statistics.median(raw)
    rows.append((f"TCP throughput, netctl overlay (iperf3 -t 5, median of {len(netctl)})", f"{n:.2f} Gbit/s",
                 f"{n / r:.1%} of the VXLAN path by hand (target ≥ 95%); runs " + ", ".join(f"{x:.2f}" for x in netctl)))
    rows.append((f"TCP throughput, VXLAN by hand with ip (median of {len(raw)})", f"{r:.2f} Gbit/s",
                 "runs " + ", ".join(f"{x:.2f}" for x in raw)))
    tracked, by_hand = open(f"{work}/tracked").read().split()
    rows.append(("VXLAN flows conntrack follows in a host namespace", tracked,
                 f"{by_hand} on the path by hand (no NAT chains there)"))

runs = [list(map(float, line.split())) for line in open(f"{work}/convergence") if len(line.split()) == 5]
missed = sum(1 for line in open(f"{work}/convergence") if len(line.split()) != 5)
times = [(r - s) * 1000 for s, e, r, u, k in runs]
connects = [(e - s) * 1000 for s, e, r, u, k in runs]
cpu = [(u + k) * 1000 for s, e, r, u, k in runs]
results["convergence_ms"], results["convergence_connect_ms"] = times, connects
if times:
    rows.append((f"connect on A → first reply on B (median of {len(times)})", ms(statistics.median(times)),
                 f"min {ms(min(times))}, max {ms(max(times))}" + (f", {missed} with no reply" if missed else "")
                 + " (target median ≤ 100 ms)"))
    rows.append(("… the connect command itself (median)", ms(statistics.median(connects)),
                 f"on CPU {ms(statistics.median(cpu))} (user + system, median); it writes the peer record before the gateway bridge's veth, near its end"))

labs = [tuple(map(float, line.split())) for line in open(f"{work}/lab")]
if labs:
    ups = [(e - s) for s, e in labs]
    results["lab_up_s"] = ups
    rows.append((f"lab up, 3 hosts × 2 sandboxes (median of {len(ups)})", f"{statistics.median(ups):.2f} s",
                 f"max {max(ups):.2f} s (target ≤ 3 s)"))

def stamp(text):  # 2026-12-01T22:07:08.123456789Z
    seconds, fraction = text.rstrip("Z").split(".")
    base = datetime.datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return base.timestamp() + int(fraction) / 10 ** len(fraction)
delays = []
for i in range(1, hosts):
    for line in open(f"{work}/logs/agent{i}.log"):
        if f"network fifty: {hosts} remote endpoints (+1 -0)" in line and stamp(line.split()[0]) >= start:
            delays.append((stamp(line.split()[0]) - start) * 1000)
            break
results["fifty_ms"], results["fifty_connect_ms"] = delays, (end - start) * 1000
results["fifty_agents_cpu_ms"], results["load"] = agents_cpu_ms, [load_start, load_end]
memory = [tuple(map(int, line.split())) for line in open(f"{work}/memory")]
rss = [r / 1024 for r, _ in memory]
pss = [p / 1024 for _, p in memory]
results["agent_rss_mib"], results["agent_pss_mib"] = rss, pss
if delays:
    rows.append((f"{hosts} hosts: connect on host 0 → programmed by the {len(delays)} others (median)",
                 ms(statistics.median(delays)), f"min {ms(min(delays))}, max {ms(max(delays))}; the connect itself {ms((end - start) * 1000)} (target median ≤ 500 ms)"))
rows.append((f"… CPU the {hosts - 1} agents spent on it (sum)", ms(agents_cpu_ms),
             f"{agents_cpu_ms / (hosts - 1):.1f} ms each, on {cpus} CPUs"))
rows.append((f"agent RSS, {hosts} agents (median)", f"{statistics.median(rss):.1f} MiB",
             f"max {max(rss):.1f} MiB (target ≤ 10 MB)"))
rows.append((f"agent PSS, {hosts} agents (median)", f"{statistics.median(pss):.1f} MiB",
             f"max {max(pss):.1f} MiB (the binary's pages shared among them)"))

with open(os.path.join(out, "overlay.json"), "w") as f:
    json.dump(results, f, indent=1)
print(f"load average {load_start} at the start, {load_end} at the end, {cpus} CPUs\n")
print("| measure | figure | against |")
print("|---|---|---|")
for name, value, note in rows:
    print(f"| {name} | {value} | {note} |")
PY
