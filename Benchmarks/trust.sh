#!/usr/bin/env bash
# Content trust: verifying a tag's full chain (root → root v2 → timestamp → snapshot →
# targets → delegation `releases` → the tag's length and sha256) from a static TUF
# repository over plain HTTP (python3 -m http.server on a free 127.0.0.1 port), with a
# fresh client state each run (only the first root trusted), as:
#  - python-tuf's ngclient.Updater in-process: refresh() + get_targetinfo() timed inside
#    one Python process (Tests/Fixtures/python-tuf/pytuf.py bench), RUNS runs, median, over
#    the HTTP server and over the directory it serves (a file:// fetcher of pytuf.py's);
#  - python-tuf as a whole command (`pytuf.py get`: interpreter start-up, imports, the same
#    work), hyperfine median;
#  - netctl in-process (netctl-bench verify: TrustClient, StaticTrustSource, the same root
#    pinned, a new state directory each run) over the same HTTP server and over the
#    directory it serves, and as `netctl trust verify` over HTTP from an empty trust
#    directory (the first root trusted on first use, then the same chain);
#  - Notary: the same tag (same manifest bytes) published with the `notary` CLI into a
#    delegation `targets/releases` on Debian's notary-server (TLS on a CA of the run's own,
#    memory storage), read from an empty cache by `notary lookup` and `netctl trust verify`;
#  - signing: netctl-bench sign (a tag change in a netctl-made collection: targets,
#    snapshot and timestamp re-signed, keys already decrypted; then the static files
#    written) and `netctl trust sign` as a whole command into a static repository in a
#    directory (tuf+file://, a signer `alice` added with `trust signer add`, so the tag goes
#    into the delegations alice and releases), the manifest described by Debian's
#    docker-registry on loopback (its one round trip, timed alone with curl beside).
# The repository is python-tuf's (pytuf.py build, then a root rotation and a second tag),
# so netctl is measured on a repository it did not write. REPOSITORY=DIR measures a
# repository made elsewhere instead (DIR holds N.root.json…; its 1.root.json is trusted;
# TAG names the tag, default 1.0).
# The server and every file live in one temporary directory, removed at the end with the
# server stopped by its pid, however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
NETCTL_BENCH=${NETCTL_BENCH:-$(dirname "$NETCTL")/netctl-bench}   # Benchmarks/Swift/TrustBench
PYTHON_TUF=${PYTHON_TUF:-.build-venv/bin/python}      # `make deps` makes it
SCRIPT=Tests/Fixtures/python-tuf/pytuf.py
RUNS=${RUNS:-30}
OUT=${OUT:-bench-results}
TAG=${TAG:-1.0}
GUN=127.0.0.1:5000/bench/app
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
unset NETCTL_ROOT            # the run's own root, trust directories and registry settings only
# On tmpfs by default, as registry.sh: this host's ext4 creates inodes slowly next to many
# freed in the last 30 s (ext4's recently_deleted), and each run here makes and removes a
# trust state; and fsync costs nothing there, where netctl's state store syncs each file it
# keeps and python-tuf's does not. BENCH_TMP=/tmp measures on disk.
BENCH_TMP=${BENCH_TMP:-/dev/shm}
WORK=$(mktemp -d "$BENCH_TMP/netctl-bench-trust.XXXXXX")
mkdir -p "$OUT" "$WORK/www" "$WORK/root" "$WORK/certs.d" "$WORK/tmp"
export TMPDIR=$WORK/tmp     # python-tuf's and netctl-bench's fresh states alike
echo '{}' > "$WORK/registries.json"
export NETCTL_REGISTRIES_CONF=$WORK/registries.json NETCTL_CERTS_D=$WORK/certs.d
export NETCTL_CONTENT_TRUST_ROOT_PASSPHRASE=bench-root-passphrase NETCTL_CONTENT_TRUST_REPOSITORY_PASSPHRASE=bench-repository-passphrase
export NOTARY_ROOT_PASSPHRASE=bench-notary-passphrase NOTARY_TARGETS_PASSPHRASE=bench-notary-passphrase \
       NOTARY_SNAPSHOT_PASSPHRASE=bench-notary-passphrase NOTARY_DELEGATION_PASSPHRASE=bench-notary-passphrase
PIDS=()

stop_pid() { kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM   # a signal ends the run through the EXIT trap

. Benchmarks/common.sh   # wait_for

[ -x "$PYTHON_TUF" ] || { echo "no python-tuf venv at $PYTHON_TUF: run make deps" >&2; exit 1; }
[ -x "$NETCTL_BENCH" ] || { echo "no $NETCTL_BENCH: swift build -c release --static-swift-stdlib builds it" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; }

# row FILE NAME PREPARE COMMAND: hyperfine's median of RUNS runs of COMMAND (no shell), with
# PREPARE (no shell either) before each, into WORK/FILE.json; the command must succeed.
row() {
    local file=$1 name=$2 prepare=$3; shift 3
    "$@" > "$WORK/$file.out" 2>&1 || { echo "$name failed: $*" >&2; cat "$WORK/$file.out" >&2; exit 1; }
    echo "  $name: $(head -c 300 "$WORK/$file.out" | tr '\n' ' ')"
    hyperfine -N --style none --warmup 2 --runs "$RUNS" ${prepare:+--prepare "$prepare"} \
        --export-json "$WORK/$file.json" -n "$name" "$(printf '%q ' "$@")" > /dev/null
}

# The repository: python-tuf's own, or the one given.
REPO=$WORK/www/$GUN
if [ -n "${REPOSITORY:-}" ]; then
    mkdir -p "$(dirname "$REPO")" && cp -r "$REPOSITORY" "$REPO"
else
    manifest() { printf '{"schemaVersion":2,"seed":"%s"}' "$1" > "$WORK/manifest-$1"; }
    manifest 1.0; manifest 2.0
    sign_args() { echo --tag "$1" --length "$(stat -c %s "$WORK/manifest-$1")" --sha256 "$(sha256sum "$WORK/manifest-$1" | cut -d' ' -f1)"; }
    "$PYTHON_TUF" "$SCRIPT" build --repo "$REPO" --keys "$WORK/keys" $(sign_args 1.0)
    "$PYTHON_TUF" "$SCRIPT" rotate --repo "$REPO" --keys "$WORK/keys"
    "$PYTHON_TUF" "$SCRIPT" sign --repo "$REPO" --keys "$WORK/keys" $(sign_args 2.0)
fi
ROOT=$WORK/trusted-root.json
cp "$REPO/1.root.json" "$ROOT"

port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$port" > "$WORK/http.log" 2>&1 &
PIDS+=($!)
wait_for 10 listening "$port"
BASE=http://127.0.0.1:$port              # the repositories' base; the collection is $BASE/$GUN/
URL=$BASE/$GUN/

echo "== verify $GUN:$TAG over HTTP ($URL), fresh client state each run, $RUNS runs"
echo "python-tuf in-process: $("$PYTHON_TUF" "$SCRIPT" get --url "$URL" --root "$ROOT" --tag "$TAG")"   # what it verified
"$PYTHON_TUF" "$SCRIPT" bench --url "$URL" --root "$ROOT" --tag "$TAG" --runs "$RUNS" > "$WORK/pytuf-inprocess.txt"
"$PYTHON_TUF" "$SCRIPT" bench --url "file://$WORK/www/$GUN/" --root "$ROOT" --tag "$TAG" --runs "$RUNS" > "$WORK/pytuf-inprocess-dir.txt"
"$NETCTL_BENCH" verify "$BASE" "$GUN" "$TAG" "$RUNS" "$ROOT" > "$WORK/netctl-inprocess-http.txt"
"$NETCTL_BENCH" verify "$WORK/www" "$GUN" "$TAG" "$RUNS" "$ROOT" > "$WORK/netctl-inprocess-dir.txt"

echo "== whole commands"
row pytuf-get "python-tuf pytuf.py get" "" "$PYTHON_TUF" "$SCRIPT" get --url "$URL" --root "$ROOT" --tag "$TAG"
row netctl-verify-http "netctl trust verify (static, HTTP)" "rm -rf $WORK/trust-http" \
    env NETCTL_CONTENT_TRUST_SERVER="tuf+$BASE" NETCTL_TRUST_DIR="$WORK/trust-http" "$NETCTL" --root "$WORK/root" trust verify "$GUN:$TAG"

# Notary: the same tag in a delegation targets/releases, published with the notary CLI.
if [ -f "$WORK/manifest-$TAG" ]; then
    NOTARY_DIR=$WORK/notary
    mkdir -p "$NOTARY_DIR"
    (
        cd "$NOTARY_DIR"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 \
            -subj "/CN=netctl bench notary CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout releases.key -out releases.crt -days 365 -subj /CN=releases
    ) > "$NOTARY_DIR/openssl.log" 2>&1 || { cat "$NOTARY_DIR/openssl.log" >&2; exit 1; }
    nport=$(free_port)
    printf '{"server": {"http_addr": "127.0.0.1:%s", "tls_cert_file": "%s/server.crt", "tls_key_file": "%s/server.key"},
 "trust_service": {"type": "local"}, "storage": {"backend": "memory"}, "logging": {"level": "warn"}}\n' \
        "$nport" "$NOTARY_DIR" "$NOTARY_DIR" > "$NOTARY_DIR/server.json"
    notary-server -config "$NOTARY_DIR/server.json" > "$NOTARY_DIR/log" 2>&1 &
    PIDS+=($!)
    wait_for 10 listening "$nport" || { cat "$NOTARY_DIR/log" >&2; exit 1; }
    NOTARY_URL=https://127.0.0.1:$nport
    mkdir -p "$WORK/certs.d/127.0.0.1:$nport" && cp "$NOTARY_DIR/ca.crt" "$WORK/certs.d/127.0.0.1:$nport/ca.crt"
    notary_cli() { local dir=$1; shift; notary -s "$NOTARY_URL" -d "$dir" --tlscacert "$NOTARY_DIR/ca.crt" "$@"; }
    {
        notary_cli "$NOTARY_DIR/publisher" init "$GUN"
        notary_cli "$NOTARY_DIR/publisher" publish "$GUN"
        notary_cli "$NOTARY_DIR/publisher" delegation add "$GUN" targets/releases "$NOTARY_DIR/releases.crt" --all-paths
        notary_cli "$NOTARY_DIR/publisher" key import "$NOTARY_DIR/releases.key" --role targets/releases
        notary_cli "$NOTARY_DIR/publisher" add "$GUN" "$TAG" "$WORK/manifest-$TAG" -r targets/releases
        notary_cli "$NOTARY_DIR/publisher" publish "$GUN"
    } > "$NOTARY_DIR/publish.log" 2>&1 || { cat "$NOTARY_DIR/publish.log" "$NOTARY_DIR/log" >&2; exit 1; }
    row notary-lookup "notary lookup" "rm -rf $NOTARY_DIR/lookup" \
        notary -s "$NOTARY_URL" -d "$NOTARY_DIR/lookup" --tlscacert "$NOTARY_DIR/ca.crt" lookup "$GUN" "$TAG"
    row netctl-verify-notary "netctl trust verify (Notary)" "rm -rf $WORK/trust-notary" \
        env NETCTL_CONTENT_TRUST_SERVER="$NOTARY_URL" NETCTL_TRUST_DIR="$WORK/trust-notary" "$NETCTL" --root "$WORK/root" trust verify "$GUN:$TAG"
else
    echo "  (no Notary rows: REPOSITORY was given, and the notary CLI needs the manifest's bytes)"
fi

echo "== signing"
"$NETCTL_BENCH" sign "$WORK/sign-inprocess" "$GUN" "$RUNS" > "$WORK/netctl-sign-inprocess.txt"
# The registry that describes the manifest to `trust sign`: one config blob, the manifest.
rport=$(free_port)
REGISTRY=127.0.0.1:$rport
mkdir -p "$WORK/registry/data"
printf '%s\n' 'version: 0.1' 'log:' '  level: warn' '  accesslog:' '    disabled: true' \
    'storage:' '  filesystem:' "    rootdirectory: $WORK/registry/data" 'http:' "  addr: $REGISTRY" > "$WORK/registry/config.yml"
docker-registry serve "$WORK/registry/config.yml" > "$WORK/registry/log" 2>&1 &
PIDS+=($!)
wait_for 10 curl -sf -o /dev/null "http://$REGISTRY/v2/" || { cat "$WORK/registry/log" >&2; exit 1; }
python3 - "$REGISTRY" <<'EOF'
import hashlib, json, sys, urllib.request
registry = sys.argv[1]
def put(url, data, kind):
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": kind})
    urllib.request.urlopen(request).read()
config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
digest = "sha256:" + hashlib.sha256(config).hexdigest()
upload = urllib.request.urlopen(urllib.request.Request(f"http://{registry}/v2/bench/app/blobs/uploads/", method="POST"))
location = upload.headers["Location"]
location = location if location.startswith("http") else f"http://{registry}{location}"
put(location + ("&" if "?" in location else "?") + "digest=" + digest, config, "application/octet-stream")
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": len(config)},
    "layers": []}).encode()
put(f"http://{registry}/v2/bench/app/manifests/1.0", manifest, "application/vnd.oci.image.manifest.v1+json")
EOF
export NETCTL_CONTENT_TRUST_SERVER="tuf+file://$WORK/sign-static" NETCTL_TRUST_DIR="$WORK/trust-sign"
"$NETCTL" --root "$WORK/root" trust key generate alice --dir "$WORK" > /dev/null
"$NETCTL" --root "$WORK/root" trust signer add --key "$WORK/alice.pub" alice "$REGISTRY/bench/app" > /dev/null
row netctl-sign "netctl trust sign (static dir)" "" "$NETCTL" --root "$WORK/root" trust sign "$REGISTRY/bench/app:1.0"
row netctl-verify-dir "netctl trust verify (static dir)" "" "$NETCTL" --root "$WORK/root" trust verify "$REGISTRY/bench/app:1.0"
row registry-get "curl GET manifest (round trip)" "" curl -sf -o /dev/null \
    -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$REGISTRY/v2/bench/app/manifests/1.0"
unset NETCTL_CONTENT_TRUST_SERVER NETCTL_TRUST_DIR

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$OUT" "$WORK" "$RUNS" "$LOAD_START" "$LOAD_END" <<'EOF'
import json, os, statistics, sys
out, work, runs, load_start, load_end = sys.argv[1:6]
def column(name, index=0):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    return statistics.median(float(line.split()[index]) for line in open(path) if line.strip())
def command(name):
    path = os.path.join(work, name + ".json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))["results"][0]["median"] * 1000
ms = lambda v: "—" if v is None else f"{v:.2f} ms"
def ratio(peer, ours):
    return "—" if peer is None or ours is None else f"{peer / ours:.1f}×"
py, py_dir = column("pytuf-inprocess.txt"), column("pytuf-inprocess-dir.txt")
http, directory = column("netctl-inprocess-http.txt"), column("netctl-inprocess-dir.txt")
sign, write = column("netctl-sign-inprocess.txt", 0), column("netctl-sign-inprocess.txt", 1)
pyget, verify_http = command("pytuf-get"), command("netctl-verify-http")
lookup, verify_notary = command("notary-lookup"), command("netctl-verify-notary")
sign_cmd, verify_dir, round_trip = command("netctl-sign"), command("netctl-verify-dir"), command("registry-get")
rows = [
    ("verify, in-process, static repo over HTTP", http, py, "python-tuf Updater (HTTP)", "≤ 5 ms, ≥ 10×"),
    ("verify, in-process, static repo in a directory", directory, py_dir, "python-tuf Updater (directory)", "≤ 5 ms, ≥ 10×"),
    ("verify, whole command, static repo over HTTP", verify_http, pyget, "python-tuf pytuf.py get", ""),
    ("verify, whole command, notary-server", verify_notary, lookup, "notary lookup", ""),
    ("sign a tag change, in-process (targets+snapshot+timestamp)", sign, None, "", "≤ 20 ms"),
    ("  … and write the static files", write, None, "", ""),
    ("netctl trust sign, whole command, static dir", sign_cmd, round_trip, "curl GET of the manifest", "≤ 20 ms above round trips"),
    ("netctl trust verify, whole command, static dir (state kept)", verify_dir, None, "", ""),
]
lines = [f"content trust: {os.path.basename(work)}; medians of {runs} runs; load average {load_start} at start, {load_end} at end",
         "", "| operation | netctl | peer | peer / netctl | target |", "|---|---|---|---|---|"]
for name, ours, peer, peer_name, target in rows:
    peer_text = f"{ms(peer)} ({peer_name})" if peer is not None else (peer_name or "")
    lines.append(f"| {name} | {ms(ours)} | {peer_text} | {ratio(peer, ours)} | {target} |")
if sign_cmd is not None and round_trip is not None:
    lines.append("")
    lines.append(f"trust sign above the registry round trip (curl's, start-up included): {sign_cmd - round_trip:.2f} ms; "
                 f"above a warm trust verify of the same collection: {sign_cmd - verify_dir:.2f} ms")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "trust.txt"), "w").write(text + "\n")
EOF
