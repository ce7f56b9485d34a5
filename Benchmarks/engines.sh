#!/usr/bin/env bash
# netctl's pieces inside the engines people run, each against what the engine ships with,
# in one run:
# - `podman run --rm --network none IMAGE true` with --runtime netctl-runc, crun and runc:
#   podman with roots of the benchmark's own (vfs), cgroupfs under a parent of its own, file
#   events, and no default ulimits (podman's nofile default is above this host's hard limit,
#   which crun and runc refuse: CAP_SYS_RESOURCE is not in root's bounding set);
# - `docker run --rm --network none IMAGE true` with --runtime netctl (netctl-runc) and runc,
#   against a dockerd started here as the tests start it: a mount namespace of its own whose
#   /run is a directory of the benchmark's, a network namespace of its own, no firewall, no
#   forwarding, no bridge, its cgroups under a parent of its own; stopped after;
# - CNI ADD, and DEL, through netctl-cni and through the reference bridge plugin with
#   host-local (/usr/lib/cni), each with a "host" and a container namespace of its own and a
#   /24 of 198.18.0.0/15, invoked as a runtime invokes a plugin (Benchmarks/cni-invoke.c:
#   the CNI_* variables, the configuration on stdin, no shell). Skipped, with a line saying
#   so, when netctl-cni is not built yet.
# crun refuses this host's hybrid cgroup layout, so podman runs inside `unshare -m` with
# /sys/fs/cgroup/unified unmounted there (all three runtimes pay the same), with a tmpfs of
# its own on /dev/shm (podman's lock file, libpod_lock, goes with it), and with /run a
# directory of the benchmark's, so the runtimes' default state roots (/run/crun, /run/runc,
# /run/netctl-runc) are the benchmark's too. Everything is under one temp dir and removed;
# the host's iptables rules and forwarding switches are compared before and after and put
# back if anything changed them. Two shared cores: expect noise, read the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/common.sh
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
BIN=$(dirname "$NETCTL")
NETCTL_RUNC=$BIN/netctl-runc
NETCTL_CNI=$BIN/netctl-cni
RUNS=${RUNS:-20}
OUT=${OUT:-bench-results}
tag=$$
WORK=$(mktemp -d /tmp/netctl-bench-engines.XXXXXX)
IMAGE=docker.io/nctest/busybox:latest
PODMAN_CGROUP=ncbench-podman-$tag
DOCKER_CGROUP=ncbench-docker-$tag
DOCKER_NETNS=ncbe-docker-$tag
CNI_NAMESPACES="ncbe-nh-$tag ncbe-nc-$tag ncbe-bh-$tag ncbe-bc-$tag"
mkdir -p "$OUT"
rm -f "$OUT"/engines-*.json

host_state() { # rules and policies without counters or comments, and the forwarding switches
    { iptables-save; ip6tables-save; } | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//'
    cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding
}

# Processes whose command line names the work directory (conmon, podman's cleanup, shims).
leftovers() {
    local pid
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$pid" = $$ ] && continue
        tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qF "$WORK" && echo "$pid"
    done
    true
}
# Every process in mount namespace $1, by pid.
in_mount_namespace() {
    local pid
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$1" ] && echo "$pid"
    done
    true
}
remove_cgroups() { # name: the parent and everything below it, in every hierarchy
    local top
    for top in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
        [ -d "$top" ] && find "$top" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    true
}

DOCKERD=
DOCKER_MNT=
stop_dockerd() {
    [ -n "$DOCKERD" ] || return 0
    local ids; ids=$(docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
    kill -TERM "$DOCKERD" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$DOCKERD" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DOCKERD" 2>/dev/null || true
    wait "$DOCKERD" 2>/dev/null || true
    if [ -n "$DOCKER_MNT" ]; then
        for _ in 1 2 3; do
            local left; left=$(in_mount_namespace "$DOCKER_MNT")
            [ -z "$left" ] && break
            kill -KILL $left 2>/dev/null || true
            sleep 0.1
        done
        exec {MNT_FD}<&-
    fi
    DOCKERD=
}

cleanup() {
    set +e
    stop_dockerd
    if [ -n "${CNI_READY:-}" ]; then
        cni_del netctl; cni_del bridge
        NETCTL_ROOT=$WORK/netctl-root NETCTL_HOST_NETNS=ncbe-nh-$tag "$NETCTL" network rm cnibench >/dev/null 2>&1
    fi
    for _ in $(seq 50); do [ -z "$(leftovers)" ] && break; sleep 0.1; done
    left=$(leftovers); [ -n "$left" ] && kill -KILL $left 2>/dev/null
    for ns in $DOCKER_NETNS $CNI_NAMESPACES; do ip netns del "$ns" 2>/dev/null; done
    remove_cgroups "$PODMAN_CGROUP"; remove_cgroups "$DOCKER_CGROUP"
    grep -F " $WORK/" /proc/self/mounts | cut -d' ' -f2 | sort -r | while read -r m; do umount -l "$m"; done
    if [ -f "$WORK/ip6tables-before" ] && ! host_state | cmp -s - "$WORK/host-before"; then
        echo "engines.sh: the host's firewall or forwarding changed during the run; putting it back" >&2
        iptables-restore < "$WORK/iptables-before"
        ip6tables-restore < "$WORK/ip6tables-before"
        echo "$forwarding" > /proc/sys/net/ipv4/ip_forward
        echo "$forwarding6" > /proc/sys/net/ipv6/conf/all/forwarding
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
host_state > "$WORK/host-before"
iptables-save > "$WORK/iptables-before"
ip6tables-save > "$WORK/ip6tables-before"
forwarding=$(cat /proc/sys/net/ipv4/ip_forward)
forwarding6=$(cat /proc/sys/net/ipv6/conf/all/forwarding)

tools/busybox-image.sh .build/test-images >/dev/null
[ -x "$NETCTL_RUNC" ] || { echo "engines.sh: $NETCTL_RUNC is missing" >&2; exit 1; }

echo "== podman run --rm --network none … true: --runtime netctl-runc, crun, runc"
PODDIR=$WORK/podman
mkdir -p "$PODDIR/tmp" "$PODDIR/run-dir"
cat > "$PODDIR/containers.conf" <<EOF
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["netctl-runc", "crun", "runc"]
EOF
cat > "$PODDIR/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$PODDIR/run"
graphroot = "$PODDIR/storage"
EOF
export CONTAINERS_CONF=$PODDIR/containers.conf CONTAINERS_STORAGE_CONF=$PODDIR/storage.conf
PODMAN="podman --root $PODDIR/storage --runroot $PODDIR/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir $PODDIR/tmp"
RUN="run --rm --network none --cgroup-parent /$PODMAN_CGROUP $IMAGE true"
unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null || true
  mount --bind '$PODDIR/run-dir' /run || exit 1
  mount -t tmpfs -o size=4m tmpfs /dev/shm || exit 1
  $PODMAN load -q -i .build/test-images/archive.tar >/dev/null 2>&1 || exit 1
  hyperfine -N --style none --warmup 3 --runs $RUNS --export-json '$OUT/engines-podman.json' \
    -n 'podman, netctl-runc' '$PODMAN --runtime $NETCTL_RUNC $RUN' \
    -n 'podman, crun' '$PODMAN --runtime /usr/bin/crun $RUN' \
    -n 'podman, runc' '$PODMAN --runtime /usr/sbin/runc $RUN' >/dev/null || exit 1
  $PODMAN rmi --all --force >/dev/null"

echo "== docker run --rm --network none … true: --runtime netctl (netctl-runc), runc"
DOCKDIR=$WORK/docker
mkdir -p "$DOCKDIR/run" "$DOCKDIR/cli"
export DOCKER_CONFIG=$DOCKDIR/cli
docker() { /usr/bin/docker -H "unix://$DOCKDIR/docker.sock" "$@"; }
docker_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
ip netns add "$DOCKER_NETNS"
ip -n "$DOCKER_NETNS" link set lo up
nsenter --net="/run/netns/$DOCKER_NETNS" -- unshare --mount --propagation private -- /bin/sh -c \
    "mount --bind '$DOCKDIR/run' /run || exit 97; exec \"\$@\"" sh \
    /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/dockerd -H "unix://$DOCKDIR/docker.sock" \
    --data-root "$DOCKDIR/data" --exec-root /run/docker --pidfile /run/docker.pid \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none --userland-proxy=false \
    --storage-driver vfs --cgroup-parent "/$DOCKER_CGROUP" --exec-opt native.cgroupdriver=cgroupfs \
    --log-level warn --no-new-privileges=false --add-runtime "netctl=$NETCTL_RUNC" > "$WORK/dockerd.log" 2>&1 &
DOCKERD=$!
host_mnt=$(readlink /proc/self/ns/mnt)
wait_for 10 sh -c "[ \"\$(readlink /proc/$DOCKERD/ns/mnt)\" != '$host_mnt' ]"
DOCKER_MNT=$(readlink "/proc/$DOCKERD/ns/mnt")
# Held open until stop_dockerd has killed what is left in it: the namespace lives on, so its
# inode number cannot pass to another namespace (someone else's container) meanwhile.
exec {MNT_FD}<"/proc/$DOCKERD/ns/mnt"
wait_for 60 docker_answers || { tail -20 "$WORK/dockerd.log" >&2; exit 1; }
docker load -i .build/test-images/archive.tar >/dev/null
DOCKER="/usr/bin/docker -H unix://$DOCKDIR/docker.sock run --rm --network none"
hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$OUT/engines-docker.json" \
    -n 'docker, netctl' "$DOCKER --runtime netctl nctest/busybox:latest true" \
    -n 'docker, runc' "$DOCKER --runtime runc nctest/busybox:latest true" >/dev/null
stop_dockerd

echo "== CNI ADD and DEL: netctl-cni, bridge + host-local"
gcc -O2 -o "$WORK/cni-invoke" Benchmarks/cni-invoke.c
cni() { # plugin-kind COMMAND: the invocation, as one line (for hyperfine)
    case $1 in
        netctl) echo "$WORK/cni-invoke ncbe-nh-$tag $WORK/netctl.json $2 bench-$tag /run/netns/ncbe-nc-$tag eth0 $NETCTL_CNI" ;;
        bridge) echo "$WORK/cni-invoke ncbe-bh-$tag $WORK/bridge.json $2 bench-$tag /run/netns/ncbe-bc-$tag eth0 /usr/lib/cni/bridge" ;;
    esac
}
cni_del() { $(cni "$1" DEL) >/dev/null 2>&1 || true; }
if [ -x "$NETCTL_CNI" ] && echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$NETCTL_CNI" >/dev/null 2>&1; then
    for ns in $CNI_NAMESPACES; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
    CNI_READY=1
    NETCTL_ROOT=$WORK/netctl-root NETCTL_HOST_NETNS=ncbe-nh-$tag "$NETCTL" network create --subnet 198.18.130.0/24 cnibench >/dev/null
    cat > "$WORK/netctl.json" <<EOF
{"cniVersion":"1.0.0","name":"cnibench","type":"netctl-cni","network":"cnibench","root":"$WORK/netctl-root","hostNetns":"ncbe-nh-$tag"}
EOF
    cat > "$WORK/bridge.json" <<EOF
{"cniVersion":"1.0.0","name":"cnibridge","type":"bridge","bridge":"ncbb$tag","isGateway":true,
 "ipam":{"type":"host-local","subnet":"198.18.131.0/24","dataDir":"$WORK/cni-ipam"}}
EOF
    # DEL measured after an ADD, ADD after a DEL: each run starts from the state it needs.
    hyperfine -N --style none --warmup 3 --runs "$((RUNS * 2))" --export-json "$OUT/engines-cni.json" \
        -p "$(cni netctl ADD)" -n 'netctl-cni DEL' "$(cni netctl DEL)" \
        -p "$(cni netctl DEL)" -n 'netctl-cni ADD' "$(cni netctl ADD)" \
        -p "$(cni bridge ADD)" -n 'bridge DEL' "$(cni bridge DEL)" \
        -p "$(cni bridge DEL)" -n 'bridge ADD' "$(cni bridge ADD)" >/dev/null
else
    echo "(netctl-cni at $NETCTL_CNI is not built yet: no CNI rows)"
fi

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def results(name):
    path = f"{out}/engines-{name}.json"
    if not os.path.exists(path): return []
    with open(path) as f:
        return json.load(f)["results"]
def medians(name):
    return {r["command"]: r["median"] * 1000 for r in results(name)}
podman, docker, cni = medians("podman"), medians("docker"), medians("cni")
# CPU time (user + system, means) of what hyperfine waited for: the plugin itself for CNI;
# for the engines only their clients (the runtime runs under conmon or the shim), so no column.
cni_cpu = {r["command"]: (r["user"] + r["system"]) * 1000 for r in results("cni")}
print(f"{'command':32} {'median':>10}  ratio")
for name, value in podman.items():
    print(f"{name:32} {value:7.1f} ms  {value / podman['podman, crun']:5.2f}x crun, {value / podman['podman, runc']:5.2f}x runc")
for name, value in docker.items():
    print(f"{name:32} {value:7.1f} ms  {value / docker['docker, runc']:5.2f}x runc")
for name, value in cni.items():
    reference = "bridge " + name.split()[-1]
    print(f"{name:32} {value:7.1f} ms  {value / cni[reference]:5.2f}x bridge + host-local;"
          f" CPU {cni_cpu[name]:5.1f} ms, {cni_cpu[name] / cni_cpu[reference]:5.2f}x")
if cni:
    ratio = cni["netctl-cni ADD"] / cni["bridge ADD"]
    print(f"target netctl-cni ADD <= 0.8x bridge's: {ratio:.2f}x, {'met' if ratio <= 0.8 else 'NOT met'}")
PY
