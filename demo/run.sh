#!/usr/bin/env bash
# The netctl demo: two sandboxes on a dual-stack bridge network and a macvlan network, real
# packets between them, Docker-shaped inspect output, a published port reached from a
# client namespace (and restored by reconcile after `nft flush ruleset`), containers from a
# real image (busybox-static, built with umoci) serving on a published port, and a crash
# repaired by reconcile; then overlay networks across three hosts of a lab (namespaces on
# two routed segments, etcd with TLS, an agent per host), checked by `lab test`.
# The "host" is a network namespace of the demo's own, so nothing touches this machine's
# real interfaces; every address is in 198.18.0.0/15 or 2001:db8::/32. All is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
tag=$$
export NETCTL_HOST_NETNS=ncdemo-host-$tag
export NETCTL_ROOT=$(mktemp -d /tmp/netctl-demo-root.XXXXXX)
export NETCTL_DEFAULT_ADDRESS_POOLS="base=198.18.0.0/16,size=24 base=2001:db8:d0::/48,size=64"
A=ncdemo-a-$tag B=ncdemo-b-$tag C=ncdemo-c-$tag D=ncdemo-d-$tag E=ncdemo-e-$tag CLIENT=ncdemo-client-$tag
SERVER_PID=

cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    for id in $("$NETCTL" ps -aq 2>/dev/null); do "$NETCTL" rm -f "$id" >/dev/null 2>&1 || true; done
    ip netns del "$CLIENT" 2>/dev/null || true
    for s in "$A" "$B" "$C" "$D" "$E"; do "$NETCTL" sandbox rm "$s" >/dev/null 2>&1 || ip netns del "$s" 2>/dev/null || true; done
    ip netns del "$NETCTL_HOST_NETNS" 2>/dev/null || true
    rm -rf "$NETCTL_ROOT"
    "$NETCTL" lab down examples/labs/two-segments.yaml >/dev/null 2>&1 || true
}
trap cleanup EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

ip netns add "$NETCTL_HOST_NETNS"
ip -n "$NETCTL_HOST_NETNS" link set lo up

step "$NETCTL" network create --ipv6 web
step "$NETCTL" sandbox create "$A"
step "$NETCTL" sandbox create "$B"
step "$NETCTL" network connect web "$A"
step "$NETCTL" network connect --ip 198.18.0.50 web "$B"
step "$NETCTL" network ls
step ip netns exec "$A" ip -br addr show eth0
step ip netns exec "$A" ping -c 2 -W 2 198.18.0.50
step ip netns exec "$B" ping -6 -c 2 -W 2 2001:db8:d0::2
step "$NETCTL" network inspect web

# A published port, reached from a "client" namespace as another machine would.
ip netns add "$CLIENT"
ip -n "$NETCTL_HOST_NETNS" link add uplink0 type veth peer name eth0 netns "$CLIENT"
ip -n "$NETCTL_HOST_NETNS" addr add 198.19.0.1/24 dev uplink0; ip -n "$NETCTL_HOST_NETNS" link set uplink0 up
ip -n "$CLIENT" addr add 198.19.0.2/24 dev eth0; ip -n "$CLIENT" link set eth0 up
step "$NETCTL" sandbox create "$D"
step "$NETCTL" network connect -p 8080:80 -p 9000-9002:9000-9002/udp web "$D"
step "$NETCTL" port "$D"
ip netns exec "$D" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 80)); s.listen()
while True:
    c, peer = s.accept(); c.sendall(("hello %s from the sandbox\n" % peer[0]).encode()); c.close()' &
SERVER_PID=$!
sleep 0.5
ask() { ip netns exec "$1" python3 -c 'import socket,sys; print(socket.create_connection((sys.argv[1], 8080), timeout=2).recv(100).decode(), end="")' "$2"; }
step ask "$CLIENT" 198.19.0.1
step ip netns exec "$NETCTL_HOST_NETNS" nft list table inet "$(ip netns exec "$NETCTL_HOST_NETNS" nft list tables | awk '/inet netctl-/ {print $3}')"
step ip netns exec "$NETCTL_HOST_NETNS" nft flush ruleset
ask "$CLIENT" 198.19.0.1 2>/dev/null || echo "(after nft flush ruleset, the published port is gone)"
step "$NETCTL" system reconcile
step ask "$CLIENT" 198.19.0.1
step "$NETCTL" sandbox create "$E"
step "$NETCTL" network connect -p 8080:81 web "$E" || true
kill "$SERVER_PID"; SERVER_PID=

# A macvlan network over a veth pair made in the demo host.
ip -n "$NETCTL_HOST_NETNS" link add demo-up0 up type veth peer name demo-up1
ip -n "$NETCTL_HOST_NETNS" link set demo-up1 up
step "$NETCTL" network create -d macvlan --subnet 198.18.77.0/24 -o parent=demo-up0 mv
step "$NETCTL" network connect mv "$A"
step "$NETCTL" network connect mv "$B"
step ip netns exec "$A" ping -c 2 -W 2 198.18.77.3

# Containers: an image built by umoci from busybox-static, a web server on the web
# network with a published port, reached from the client; exec, logs, an OOM kill.
tools/busybox-image.sh .build/test-images >/dev/null
step "$NETCTL" image import --name demo/busybox .build/test-images/layout
step "$NETCTL" image ls
step "$NETCTL" run -d --name site --hostname site --network web -p 8081:80 demo/busybox \
    sh -c 'mkdir -p /www && echo "hello from the container $(hostname)" > /www/index.html && echo serving && exec httpd -f -p 80 -h /www'
step "$NETCTL" ps
sleep 0.3
step ip netns exec "$CLIENT" python3 -c 'import urllib.request; print(urllib.request.urlopen("http://198.19.0.1:8081/", timeout=3).read().decode(), end="")'
step "$NETCTL" exec site sh -c 'echo "pid $$ in $(hostname)"; ps -o pid,comm'
step "$NETCTL" logs site
step "$NETCTL" run --rm --memory 16m demo/busybox tail /dev/zero || echo "(exit $?: killed by the OOM killer)"
step "$NETCTL" stop -t 1 site
step "$NETCTL" rm site

# Bad input is refused, saying what was wrong.
step "$NETCTL" network create --subnet 198.18.0.0/16 clash || true
step "$NETCTL" network rm web || true

# A connect killed halfway, then repaired.
step "$NETCTL" sandbox create "$C"
NETCTL_FAULT=connect.after-veth "$NETCTL" network connect web "$C" || echo "(netctl was killed after making the veth)"
step ip -n "$NETCTL_HOST_NETNS" -br link show type veth
step "$NETCTL" system reconcile
step ip -n "$NETCTL_HOST_NETNS" -br link show type veth

step "$NETCTL" sandbox rm "$A" "$B" "$C" "$D" "$E"
step "$NETCTL" network prune -f
# Overlay networks across hosts: three hosts over two routed segments, etcd with TLS.
step "$NETCTL" lab up examples/labs/two-segments.yaml
step "$NETCTL" lab exec h1 -- netctl network create -d overlay --subnet 198.18.103.0/24 green
step "$NETCTL" lab exec h3 -- netctl network ls
step "$NETCTL" lab exec h2 -- netctl cluster nodes
step "$NETCTL" lab test two
step "$NETCTL" lab down two

echo; echo "demo done: everything it made is removed."
