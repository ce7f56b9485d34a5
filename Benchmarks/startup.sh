#!/usr/bin/env bash
# Start-up, which every command pays: netctl --version, `network ls` on an empty root, and
# `run` and `network connect` lines parsed in full and refused at their first look-up
# (the image, the network: nothing exists in the empty root), side by side with a
# statically linked Swift "hello" built here. Wall-clock medians with hyperfine; instruction counts with
# callgrind (repeatable whatever else the machine does) for the why.
# BEFORE=PATH adds the same rows for another netctl binary (an earlier build).
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
RUNS=${RUNS:-200}
OUT=${OUT:-bench-results}
WORK=$(mktemp -d /tmp/netctl-bench-startup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT" "$WORK/root"

echo 'print("hello")' > "$WORK/hello.swift"
swiftc -O -static-stdlib "$WORK/hello.swift" -o "$WORK/hello" 2>/dev/null

rows() { # label, binary, extra run flags
    local n=$2
    printf '%s\n' \
        "$1 --version|$n --version" \
        "$1 network ls (empty root)|$n network ls --root $WORK/root" \
        "$1 run, parsed and refused|$n run --root $WORK/root$3 --rm --network web -p 8080:80 -e A=1 --cap-drop ALL busybox sh -c true" \
        "$1 network connect, parsed and refused|$n network connect --root $WORK/root -p 8080:80 --alias db web sb"
}
"$NETCTL" --root "$WORK/root" network ls >/dev/null   # the root's first use writes its id
{
    echo "static Swift hello|$WORK/hello"
    # --pull never: the image is missing, and run would otherwise pull it from Docker Hub
    # (builds before registries had no --pull and never pulled).
    rows netctl "$NETCTL" " --pull never"
    if [ -n "${BEFORE:-}" ]; then rows before "$BEFORE" "${BEFORE_RUN_FLAGS:-}"; fi
} > "$WORK/commands"

args=()
while IFS='|' read -r name command; do args+=(-n "$name" "$command"); done < "$WORK/commands"
hyperfine -N -i --style none --warmup 20 --runs "$RUNS" --export-json "$OUT/startup.json" "${args[@]}" >/dev/null 2>&1

# callgrind cannot read the debug information of a static-stdlib Swift binary: it counts
# a copy without it (the same code and data).
strip -g -o "$WORK/netctl.callgrind" "$NETCTL"
if [ -n "${BEFORE:-}" ]; then strip -g -o "$WORK/before.callgrind" "$BEFORE"; fi
python3 - "$OUT/startup.json" "$WORK/commands" "$NETCTL=$WORK/netctl.callgrind" "${BEFORE:-none}=$WORK/before.callgrind" <<'PY'
import json, subprocess, sys, re
copies = dict(arg.split("=", 1) for arg in sys.argv[3:])
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
hello = results["static Swift hello"]["median"]
print(f"{'command':<40} {'median':>9} {'vs hello':>9} {'instructions':>14}")
for line in open(sys.argv[2]):
    name, command = line.rstrip("\n").split("|", 1)
    median = results[name]["median"]
    run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + [copies.get(word, word) for word in command.split()],
                         capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    instructions = f"{int(found.group(1)):,}" if found else "n/a"
    print(f"{name:<40} {median * 1000:>7.2f} ms {median / hello:>8.2f}× {instructions:>14}")
PY
