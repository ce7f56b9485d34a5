#!/usr/bin/env bash
# Content trust: verifying a tag's full chain (root → root v2 → timestamp → snapshot →
# targets → delegation `releases` → the tag's length and sha256) from a static TUF
# repository over plain HTTP (python3 -m http.server on a free 127.0.0.1 port), with a
# fresh client state each run (only the first root trusted), as:
#  - python-tuf's ngclient.Updater in-process: refresh() + get_targetinfo() timed inside
#    one Python process (Tests/Fixtures/python-tuf/pytuf.py bench), RUNS runs, median;
#  - python-tuf as a whole command (`pytuf.py get`: interpreter start-up, imports, the same
#    work), hyperfine median;
#  - netctl, in-process and as `netctl trust verify`: see the hook NETCTL_VERIFY below.
# The repository is python-tuf's (pytuf.py build, then a root rotation and a second tag),
# so netctl is measured on a repository it did not write. REPOSITORY=DIR measures a
# repository made elsewhere instead (DIR holds N.root.json…; its 1.root.json is trusted;
# TAG names the tag, default 1.0).
# The server and every file live in one temporary directory, removed at the end with the
# server stopped by its pid, however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
PYTHON_TUF=${PYTHON_TUF:-.build-venv/bin/python}      # `make deps` makes it
SCRIPT=Tests/Fixtures/python-tuf/pytuf.py
RUNS=${RUNS:-30}
OUT=${OUT:-bench-results}
TAG=${TAG:-1.0}
GUN=127.0.0.1:5000/bench/app
WORK=$(mktemp -d /tmp/netctl-bench-trust.XXXXXX)
mkdir -p "$OUT" "$WORK/www"
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

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$port" > "$WORK/http.log" 2>&1 &
PIDS+=($!)
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null
BASE=http://127.0.0.1:$port              # the repositories' base; the collection is $BASE/$GUN/
URL=$BASE/$GUN/

echo "== python-tuf: ngclient.Updater refresh + get_targetinfo($TAG), in-process, $RUNS runs"
"$PYTHON_TUF" "$SCRIPT" get --url "$URL" --root "$ROOT" --tag "$TAG"       # what it verified
"$PYTHON_TUF" "$SCRIPT" bench --url "$URL" --root "$ROOT" --tag "$TAG" --runs "$RUNS" > "$WORK/pytuf-inprocess.txt"

echo "== whole commands"
rows=(-n 'python-tuf pytuf.py get' "$PYTHON_TUF $SCRIPT get --url $URL --root $ROOT --tag $TAG")

# Hook (the lead wires netctl's side): NETCTL_VERIFY is netctl's command line for the same
# work, run by hyperfine with a fresh trust directory each run. It may use BASE, GUN, URL,
# ROOT (the trusted root file), TAG and TRUST_DIR (empty before each run), e.g.
#   NETCTL_VERIFY='$NETCTL trust verify --static $BASE --root-pin $ROOT $GUN:$TAG'
# (flag names as the CLI ends up naming them). NETCTL_INPROCESS, when set, is a command
# that prints one in-process time in milliseconds per line for RUNS runs of the same
# chain (a test binary or `netctl trust verify --repeat`), compared with python-tuf's.
TRUST_DIR=$WORK/trust
export NETCTL BASE GUN URL ROOT TAG TRUST_DIR
if [ -n "${NETCTL_VERIFY:-}" ]; then
    rows+=(--prepare "rm -rf $TRUST_DIR; mkdir -p $TRUST_DIR" -n 'netctl trust verify' "$(eval echo "\"$NETCTL_VERIFY\"")")
fi
hyperfine -N -i --style none --warmup 2 --runs "$RUNS" --export-json "$OUT/trust-commands.json" "${rows[@]}" >/dev/null
if [ -n "${NETCTL_INPROCESS:-}" ]; then
    eval "$NETCTL_INPROCESS" > "$WORK/netctl-inprocess.txt"
fi

python3 - "$OUT" "$WORK" <<'EOF'
import json, os, statistics, sys
out, work = sys.argv[1], sys.argv[2]
def times(name):
    path = os.path.join(work, name)
    return [float(x) for x in open(path).read().split()] if os.path.exists(path) else []
py = times("pytuf-inprocess.txt")
ours = times("netctl-inprocess.txt")
with open(os.path.join(out, "trust-commands.json")) as f:
    commands = {r["command"]: r["median"] * 1000 for r in json.load(f)["results"]}
lines = [f"verify a tag's full chain over HTTP, fresh client state, medians of {len(py)} runs"]
lines.append(f"  in-process   python-tuf Updater {statistics.median(py):8.2f} ms")
if ours:
    lines.append(f"  in-process   netctl             {statistics.median(ours):8.2f} ms  "
                 f"({statistics.median(py) / statistics.median(ours):.1f}x faster than python-tuf)")
else:
    lines.append("  in-process   netctl             (not measured: set NETCTL_INPROCESS)")
for name, ms in commands.items():
    lines.append(f"  command      {name:18} {ms:8.2f} ms")
if "netctl trust verify" in commands:
    ratio = commands["python-tuf pytuf.py get"] / commands["netctl trust verify"]
    lines.append(f"  command      netctl is {ratio:.1f}x faster than python-tuf")
else:
    lines.append("  command      netctl trust verify (not measured: set NETCTL_VERIFY)")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "trust.txt"), "w").write(text + "\n")
EOF
