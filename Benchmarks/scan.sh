#!/usr/bin/env bash
# Vulnerability scanning (issue 16), against a generated OSV set of COUNT (200,000)
# advisories (Benchmarks/scan-generate.py, seeded, built once into .build/bench-scan) and an
# image of ~1,000 packages drawn from the same pools (Benchmarks/scan-image.py: Debian 12,
# ~700 dpkg packages, 200 Python dist-infos, 100 npm packages, in 3 layers over busybox's):
#  - import: `netctl scan db import` of the six per-ecosystem all.zip files (OSV's published
#    form) into an empty database, IMPORT_RUNS runs, each into a fresh scan/ directory: wall
#    time, peak RSS and CPU (/usr/bin/time), medians; then once from the same records as
#    200,000 files in per-ecosystem directories; the database's size (`scan db info`
#    bytes, and the scan/ directory on disk). Target ≤ 30 s.
#  - scan: `netctl scan IMAGE --format json` (inventory of the image's unpacked layers +
#    matching every package against the database + the report), hyperfine median of RUNS
#    runs (output discarded), and its peak RSS (/usr/bin/time, median of 5). Targets ≤ 200 ms
#    and ≤ 200 MB. Before timing, the report is checked against what the generator made
#    (findings known by construction, see scan-generate.py): a scan that finds other things
#    is said so, loudly, in the results.
#  - inventory alone: `netctl scan IMAGE --list-packages --format json` (no database).
#  - run: `netctl run --rm --network none --pull never IMAGE true` against the same with
#    `--scan-policy CRITICAL` (the image has findings, none critical: the check passes and
#    the container runs), the scan result cached (the scan above stored it): RUN_RUNS runs
#    each, in ROUNDS hyperfine invocations that alternate the two commands (so both see the
#    same machine), the difference of the pooled medians and the median of the rounds'
#    differences, and their CPU times (user + system). Target ≤ 2 ms. (No instruction
#    counts here: Debian 12's valgrind 3.19 does not know openat2, which run needs.) And
#    the first check (cache removed before each run: a whole scan inside `run`).
#    --network none: the bridge's set-up is not what is measured.
#  - version ordering, pairs per second, on pairs of versions taken from the generated set
#    (a package's installed version against its advisories' events, the events against each
#    other): netctl's comparators (VersionScheme and Sources/Security/Scan/Versions compiled
#    here with swiftc -O into a small loop, as startup.sh compiles its hello, no package
#    change), against `dpkg --compare-versions` (one process per pair, hyperfine), libapt's
#    apt_pkg.version_compare in-process (python3-apt: dpkg's algorithm in C++), Python
#    packaging's Version in-process (parse + compare, as netctl does per pair) and rpm's
#    rpm.vercmp in one `rpm --eval '%{lua:…}'` run.
#  - start-up, when BEFORE=PATH names an earlier netctl (the release build before the scan
#    work): `--version` and a bridge `network connect` (a sandbox of each binary's own on a
#    network of its own, in a network namespace of the run's own; disconnect before each
#    run), hyperfine medians over ROUNDS rounds alternating the two binaries, and callgrind
#    instruction counts (of strip -g copies: callgrind cannot read a static-stdlib Swift
#    binary's debug information).
# Peers: no Trivy, Grype or osv-scanner is packaged in Debian 12 (apt-cache search finds
# none), nor on PyPI (nothing for trivy or grype; for osv-scanner only a 0.0.1 wheel, while
# Google's osv-scanner is a Go program released on GitHub), so whole-scan figures have no
# peer here; the version orderings do.
# Everything (roots, image, the unpacked set, the namespace) lives in one temporary
# directory on tmpfs (BENCH_TMP, as registry.sh: this host's ext4 is slow to create inodes
# next to many freed ones), removed at the end however the run ends; the state root is the
# run's own (NETCTL_ROOT), never /var/lib/netctl. Results: bench-results/scan.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
NETCTL=${NETCTL:-$(swift build -c release --static-swift-stdlib --show-bin-path)/netctl}
COUNT=${COUNT:-200000}
SEED=${SEED:-16}
RUNS=${RUNS:-30}
IMPORT_RUNS=${IMPORT_RUNS:-3}
RUN_RUNS=${RUN_RUNS:-200}
ROUNDS=${ROUNDS:-10}
POLICY=${POLICY:-CRITICAL}
OUT=${OUT:-bench-results}
PYTHON_VENV=${PYTHON_VENV:-.build-venv/bin/python}   # packaging; `make deps` makes it
BENCH_TMP=${BENCH_TMP:-/dev/shm}
SET=.build/bench-scan/osv-$COUNT-$SEED
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
unset NETCTL_ROOT
WORK=$(mktemp -d "$BENCH_TMP/netctl-bench-scan.XXXXXX")
ROOT=$WORK/root
HOST=ncscan-$$                 # the start-up rows' network namespace, and their sandbox
SANDBOX=ncscan-sb-$$
mkdir -p "$OUT" "$ROOT"
export NETCTL_ROOT=$ROOT

# The start-up rows' sandbox and network, removed by the binary that made them, and the
# root's resolver (a netctl-dns process the connect started).
stop_startup() { # ROOT BINARY SANDBOX
    local in=(nsenter --net="/run/netns/$HOST" env NETCTL_ROOT="$1" "$2")
    "${in[@]}" network disconnect bnet "$3" > /dev/null 2>&1 || true
    "${in[@]}" sandbox rm "$3" > /dev/null 2>&1 || true
    "${in[@]}" network rm bnet > /dev/null 2>&1 || true
    # The resolver would linger 30 s for another sandbox: stopped now, by its pid.
    [ -f "$1/dns/resolver.pid" ] && kill "$(cat "$1/dns/resolver.pid")" 2> /dev/null || true
    return 0
}
cleanup() {
    set +e
    for id in $("$NETCTL" ps -aq 2>/dev/null); do "$NETCTL" rm -f "$id" >/dev/null 2>&1; done
    if [ -e "/run/netns/$HOST" ]; then
        [ -f "$WORK/startup-roots" ] && while read -r root binary sandbox; do stop_startup "$root" "$binary" "$sandbox"; done < "$WORK/startup-roots"
        ip netns del "$HOST"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM   # a signal ends the run through the EXIT trap

[ -x "$PYTHON_VENV" ] || { echo "no Python venv at $PYTHON_VENV: run make deps" >&2; exit 1; }
[ -x "$NETCTL" ] || { echo "no netctl at $NETCTL: swift build -c release --static-swift-stdlib builds it" >&2; exit 1; }
echo "netctl: $NETCTL; $COUNT advisories (seed $SEED); load average at start $LOAD_START"

# measure LABEL COMMAND…: one run; appends "LABEL SECONDS KILOBYTES USER SYSTEM" to WORK/times.
measure() {
    local label=$1; shift
    if ! /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" > "$WORK/stdout" 2> "$WORK/stderr"; then
        echo "$label failed: $*" >&2; cat "$WORK/stderr" >&2; exit 1
    fi
    echo "$label $(tail -1 "$WORK/time")" >> "$WORK/times"
}

# The advisory set, once (its generation is not measured).
if [ ! -f "$SET/expected.json" ]; then
    echo "== generating $COUNT advisories into $SET (once)"
    rm -rf "$SET"
    python3 Benchmarks/scan-generate.py "$SET.tmp" --count "$COUNT" --seed "$SEED"
    mv "$SET.tmp" "$SET"
fi
ZIPS=("$SET"/zip/*/all.zip)

echo "== import: ${#ZIPS[@]} all.zip files ($(du -sh "$SET/zip" | cut -f1)), $IMPORT_RUNS runs, each into an empty database"
for run in $(seq "$IMPORT_RUNS"); do
    rm -rf "$ROOT/scan"
    measure import-zip "$NETCTL" scan db import --format json "${ZIPS[@]}"
    echo "  $(tail -1 "$WORK/times")  $(head -c 300 "$WORK/stdout" | tr '\n' ' ')"
done
cp "$WORK/stdout" "$WORK/import.json"
"$NETCTL" scan db info --format json > "$WORK/info.json"
du -sb "$ROOT/scan" | cut -f1 > "$WORK/scan-dir-bytes"
echo "== import: the same records as files in per-ecosystem directories"
python3 - "$SET/zip" "$WORK/osv" <<'EOF'
import os, sys, zipfile
for ecosystem in os.listdir(sys.argv[1]):
    zipfile.ZipFile(os.path.join(sys.argv[1], ecosystem, "all.zip")).extractall(os.path.join(sys.argv[2], ecosystem))
EOF
mkdir -p "$WORK/root-dir"
NETCTL_ROOT=$WORK/root-dir measure import-dir "$NETCTL" scan db import --format json "$WORK/osv"
echo "  $(tail -1 "$WORK/times")"
rm -rf "$WORK/osv" "$WORK/root-dir"

echo "== the image"
tools/busybox-image.sh .build/test-images
BUSYBOX_LAYER=$(python3 - .build/test-images/layout <<'EOF'
import json, sys
layout = sys.argv[1]
manifest = json.load(open(layout + "/index.json"))["manifests"][0]["digest"].split(":")[1]
print(layout + "/blobs/sha256/" + json.load(open(f"{layout}/blobs/sha256/{manifest}"))["layers"][0]["digest"].split(":")[1])
EOF
)
python3 Benchmarks/scan-image.py "$WORK/layout" "$SET/expected.json" "$BUSYBOX_LAYER" --seed "$SEED"
"$NETCTL" image import --name scanbench "$WORK/layout" > /dev/null
IMAGE=scanbench

echo "== scan $IMAGE: checked against what the generator made, then timed ($RUNS runs)"
"$NETCTL" scan "$IMAGE" --format json > "$WORK/report.json"
python3 - "$WORK/report.json" "$WORK/layout.expected.json" "$WORK/check" <<'EOF'
import json, sys
report, expected = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
# The report's shape (Sources/Security/Scan/Report/ScanReport.swift): "packages" is the
# inventory; each finding has "package" (with "kind") and "advisory" (with "severity").
findings = report.get("findings", [])
packages = report.get("packages", report.get("inventory", {}).get("packages", []))
want_packages = sum(expected["packages"].values())
kinds, severities = {}, {}
for finding in findings:
    kind = {"dpkg": "Debian", "python": "PyPI", "npm": "npm"}.get(finding.get("package", {}).get("kind"), "?")
    kinds[kind] = kinds.get(kind, 0) + 1
    severity = str(finding.get("advisory", {}).get("severity", "?"))
    severities[severity] = severities.get(severity, 0) + 1
ok = len(findings) == expected["expectedFindings"] and len(packages) == want_packages and all(kinds.get(k, 0) == v for k, v in expected["expectedByEcosystem"].items())
line = (f"{len(packages)} packages (expected {want_packages}), {len(findings)} findings {kinds} (expected {expected['expectedFindings']}: "
        f"{expected['expectedByEcosystem']}); severities {severities}" + ("" if ok else " — MISMATCH: the scan did not find what the set holds"))
print("  " + line)
open(sys.argv[3], "w").write(line + "\n")
EOF
hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$WORK/scan.json" -n scan \
    "$NETCTL scan $IMAGE --format json" > /dev/null
hyperfine -N --style none --warmup 3 --runs "$RUNS" --export-json "$WORK/list.json" -n list \
    "$NETCTL scan $IMAGE --list-packages --format json" > /dev/null
for run in 1 2 3 4 5; do
    measure scan "$NETCTL" scan "$IMAGE" --format json
    measure list "$NETCTL" scan "$IMAGE" --list-packages --format json
done

echo "== run --rm (plain) against run --rm --scan-policy $POLICY (cached), $RUN_RUNS runs each in $ROUNDS alternating rounds"
RUN=("$NETCTL" run --rm --network none --pull never)
"${RUN[@]}" --scan-policy "$POLICY" "$IMAGE" true || { echo "run --scan-policy $POLICY refused the image: no passing figure" >&2; exit 1; }
for round in $(seq "$ROUNDS"); do
    hyperfine -N --style none --warmup 3 --runs $((RUN_RUNS / ROUNDS)) --export-json "$WORK/run-$round.json" \
        -n plain "${RUN[*]} $IMAGE true" -n policy "${RUN[*]} --scan-policy $POLICY $IMAGE true" > /dev/null
done
hyperfine -N --style none --warmup 1 --runs $((RUNS < 20 ? RUNS : 20)) --export-json "$WORK/run-uncached.json" \
    --prepare "rm -rf $ROOT/scan/cache" -n uncached "${RUN[*]} --scan-policy $POLICY $IMAGE true" > /dev/null

echo "== version ordering: pairs from the set"
python3 - "$SET" "$WORK/pairs" <<'EOF'
import json, os, random, sys, zipfile
from itertools import islice
set_dir, out = sys.argv[1], sys.argv[2]
installed = json.load(open(os.path.join(set_dir, "expected.json")))["packages"]
rng = random.Random(16)
os.makedirs(out, exist_ok=True)
# A package's versions against each other: the installed one (for the image's packages)
# against every event, and the events of its advisories pairwise in file order.
for ecosystem, scheme in [("Debian", "debian"), ("PyPI", "pep440"), ("Red Hat", "rpm"), ("npm", "semver")]:
    pairs, seen = [], {}
    archive = zipfile.ZipFile(os.path.join(set_dir, "zip", ecosystem, "all.zip"))
    for name in islice(archive.namelist(), 20000):
        for affected in json.loads(archive.read(name))["affected"]:
            package = affected["package"]["name"]
            versions = [v for e in affected["ranges"][0]["events"] for v in e.values() if v != "0"] + affected.get("versions", [])
            mine = installed.get(ecosystem, {}).get(package)
            if mine:
                pairs += [(mine, v) for v in versions]
            earlier = seen.setdefault(package, [])
            pairs += [(a, b) for a in earlier[-3:] for b in versions]
            earlier += versions
    rng.shuffle(pairs)
    pairs = pairs[:20000]
    with open(os.path.join(out, scheme), "w") as f:
        f.writelines(f"{a} {b}\n" for a, b in pairs)
    print(f"  {scheme}: {len(pairs)} pairs, e.g. {pairs[0][0]} vs {pairs[0][1]}")
EOF
# netctl's comparators, compiled alone with the loop below (no package change: the files are
# plain Swift over the standard library).
cat > "$WORK/main.swift" <<'EOF'
// argv: SCHEME PAIRS_FILE REPEAT → "pairs/s checksum"
let arguments = CommandLine.arguments
guard let scheme = VersionScheme(rawValue: arguments[1]) else { fatalError("scheme \(arguments[1])") }
var pairs: [(String, String)] = []
while let line = readLine() {
    let parts = line.split(separator: " ")
    pairs.append((String(parts[0]), String(parts[1])))
}
let repeats = Int(arguments[2])!
var checksum = 0
let clock = ContinuousClock()
let elapsed = clock.measure {
    for _ in 0..<repeats { for (a, b) in pairs { checksum &+= (scheme.compare(a, b) ?? 7) } }
}
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print(Int(Double(pairs.count * repeats) / seconds), checksum)
EOF
if swiftc -O -wmo -module-name VersionsBench Sources/Security/Scan/Model/VersionScheme.swift Sources/Security/Scan/Versions/*.swift \
        "$WORK/main.swift" -o "$WORK/versions-bench" 2> "$WORK/swiftc.log"; then
    for scheme in debian pep440 rpm semver; do
        echo "netctl-$scheme $("$WORK/versions-bench" "$scheme" 20 < "$WORK/pairs/$scheme" | cut -d' ' -f1)" >> "$WORK/rates"
    done
else
    echo "  netctl's comparators did not compile alone (no netctl rows): $(head -3 "$WORK/swiftc.log")"
fi
read -r a b < "$WORK/pairs/debian"
# -i: its exit status is the answer (1 for false)
hyperfine -N -i --style none --warmup 5 --runs 200 --export-json "$WORK/dpkg.json" -n dpkg "dpkg --compare-versions $a lt $b" > /dev/null 2>&1
echo "dpkg-process $(python3 -c "import json; print(int(1 / json.load(open('$WORK/dpkg.json'))['results'][0]['median']))")" >> "$WORK/rates"
/usr/bin/python3 - "$WORK/pairs/debian" >> "$WORK/rates" <<'EOF'
import sys, time
import apt_pkg
apt_pkg.init()
pairs = [line.split() for line in open(sys.argv[1])]
start = time.perf_counter()
for _ in range(5):
    for a, b in pairs:
        apt_pkg.version_compare(a, b)
print("apt_pkg", int(5 * len(pairs) / (time.perf_counter() - start)))
EOF
"$PYTHON_VENV" - "$WORK/pairs/pep440" >> "$WORK/rates" <<'EOF'
import sys, time
from packaging.version import Version
pairs = [line.split() for line in open(sys.argv[1])]
start = time.perf_counter()
for a, b in pairs:
    Version(a) < Version(b)
print("packaging", int(len(pairs) / (time.perf_counter() - start)))
EOF
python3 - "$WORK/pairs/rpm" "$WORK/pairs.lua" <<'EOF'
import sys
pairs = [line.split() for line in open(sys.argv[1])]
with open(sys.argv[2], "w") as f:
    f.write("local pairs = {\n" + "".join(f'{{"{a}", "{b}"}},\n' for a, b in pairs) + "}\n")
    f.write("local start = os.clock()\nlocal sum = 0\n"
            "for r = 1, 5 do for i = 1, #pairs do sum = sum + rpm.vercmp(pairs[i][1], pairs[i][2]) end end\n"
            "print(math.floor(5 * #pairs / (os.clock() - start)))\n")
EOF
echo "rpm-lua $(rpm --eval "%{lua: dofile('$WORK/pairs.lua')}")" >> "$WORK/rates"
sed 's/^/  /' "$WORK/rates"

if [ -n "${BEFORE:-}" ]; then
    echo "== start-up: --version and a bridge network connect, this netctl and $BEFORE, in $ROUNDS alternating rounds"
    ip netns add "$HOST"
    ip -n "$HOST" link set lo up
    in_host() { local root=$1; shift; nsenter --net="/run/netns/$HOST" env NETCTL_ROOT="$root" "$@"; }
    subnet=110
    for which in after before; do
        binary=$NETCTL; [ "$which" = before ] && binary=$BEFORE
        root=$WORK/startup-$which
        subnet=$((subnet + 1))
        mkdir -p "$root/callgrind"
        echo "$root $binary $SANDBOX-$which" >> "$WORK/startup-roots"
        # The stripped copy starts its resolver from beside itself, as netctl does.
        strip -g -o "$root/callgrind/netctl" "$binary"
        # Protocol conformance records: the Swift runtime scans them all at a lookup not yet
        # cached (ArgumentParser's reflection over command types makes several per start).
        size=$(readelf -SW "$binary" | sed -n 's/.*swift5_protocol_conformances *[A-Z]* *[0-9a-f]* *[0-9a-f]* *\([0-9a-f]*\).*/\1/p')
        echo "$((16#${size:-0} / 4)) $(stat -c %s "$binary")" > "$WORK/startup-$which-binary"
        ln -s "$(dirname "$binary")/netctl-dns" "$root/callgrind/netctl-dns"
        in_host "$root" "$binary" sandbox create "$SANDBOX-$which" > /dev/null
        in_host "$root" "$binary" network create --subnet "198.18.$subnet.0/24" bnet > /dev/null
    done
    for round in $(seq "$ROUNDS"); do
        hyperfine -N --style none --warmup 10 --runs $((RUN_RUNS / ROUNDS)) --export-json "$WORK/startup-version-$round.json" \
            -n after "$NETCTL --version" -n before "$BEFORE --version" > /dev/null
        while read -r root binary sandbox; do
            which=${root##*-}
            in_host "$root" hyperfine --style none --warmup 2 --runs $((RUNS / ROUNDS > 3 ? RUNS / ROUNDS : 3)) \
                --export-json "$WORK/startup-connect-$which-$round.json" \
                --prepare "$binary network disconnect bnet $sandbox >/dev/null 2>&1 || true" \
                -n "$which" "$binary network connect bnet $sandbox" > /dev/null
        done < "$WORK/startup-roots"
    done
    while read -r root binary sandbox; do
        which=${root##*-}
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$root/callgrind/netctl" --version 2>&1 >/dev/null \
            | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' > "$WORK/startup-$which-version.ir"
        in_host "$root" "$binary" network disconnect bnet "$sandbox" > /dev/null
        in_host "$root" valgrind --tool=callgrind --callgrind-out-file=/dev/null "$root/callgrind/netctl" network connect bnet "$sandbox" 2>&1 >/dev/null \
            | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' > "$WORK/startup-$which-connect.ir"
        stop_startup "$root" "$binary" "$sandbox"
    done < "$WORK/startup-roots"
fi

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$OUT" "$WORK" "$COUNT" "$RUNS" "$RUN_RUNS" "$ROUNDS" "$POLICY" "$LOAD_START" "$LOAD_END" <<'EOF'
import json, os, statistics, sys
out, work, count, runs, run_runs, rounds, policy, load_start, load_end = sys.argv[1:10]
times = {}
for line in open(os.path.join(work, "times")):
    label, *values = line.split()
    times.setdefault(label, []).append([float(v) for v in values])
def col(label, index):
    return statistics.median(v[index] for v in times[label]) if label in times else None
def hf(name):
    return json.load(open(os.path.join(work, name + ".json")))["results"]
info = json.load(open(os.path.join(work, "info.json")))
summary = json.load(open(os.path.join(work, "import.json")))
plain, policy_times, differences = [], [], []
for r in range(1, int(rounds) + 1):
    results = {x["command"]: x["times"] for x in hf(f"run-{r}")}
    plain += results["plain"]; policy_times += results["policy"]
    differences.append(statistics.median(results["policy"]) - statistics.median(results["plain"]))
uncached = hf("run-uncached")[0]["median"]
rates = dict(line.split() for line in open(os.path.join(work, "rates")))
ms = lambda s: f"{s * 1000:.2f} ms"
mb = lambda kb: f"{kb / 1024:.0f} MB"
lines = [f"scan: {os.path.basename(work)}; {count} advisories; medians; load average {load_start} at start, {load_end} at end",
         "check: " + open(os.path.join(work, "check")).read().strip(), "",
         "| operation | netctl | target | notes |", "|---|---|---|---|"]
lines.append(f"| import {count} advisories (6 all.zip) | {col('import-zip', 0):.1f} s, peak RSS {mb(col('import-zip', 1))}, "
             f"CPU {col('import-zip', 2) + col('import-zip', 3):.1f} s | ≤ 30 s | median of {len(times['import-zip'])} |")
lines.append(f"| import, the same as {count} files in directories | {col('import-dir', 0):.1f} s, peak RSS {mb(col('import-dir', 1))} | ≤ 30 s | 1 run |")
lines.append(f"| database size | {info.get('bytes', 0) / 1e6:.0f} MB (scan db info); scan/ on disk "
             f"{int(open(os.path.join(work, 'scan-dir-bytes')).read()) / 1e6:.0f} MB | | {info.get('advisories')} advisories, "
             f"{info.get('affectedEntries')} affected entries |")
scan = hf("scan")[0]["median"]
lines.append(f"| scan IMAGE --format json (~1,000 packages) | {ms(scan)}, peak RSS {mb(col('scan', 1))} | ≤ 200 ms, ≤ 200 MB | hyperfine, {runs} runs; RSS median of 5 |")
lines.append(f"| scan --list-packages --format json (inventory alone) | {ms(hf('list')[0]['median'])}, peak RSS {mb(col('list', 1))} | | |")
pm, qm = statistics.median(plain), statistics.median(policy_times)
lines.append(f"| run --rm --network none IMAGE true | {ms(pm)} | | {len(plain)} runs in {rounds} rounds |")
lines.append(f"| run --rm … --scan-policy {policy}, cached | {ms(qm)}: +{(qm - pm) * 1000:.2f} ms pooled, "
             f"+{statistics.median(differences) * 1000:.2f} ms median of rounds ({', '.join(f'{d * 1000:+.2f}' for d in differences)}) | ≤ 2 ms | alternating rounds |")
lines.append(f"| run --rm … --scan-policy {policy}, first check (no cache) | {ms(uncached)} | | cache removed before each run |")
cpu = {}
for kind in ("plain", "policy"):
    rows = [x for r in range(1, int(rounds) + 1) for x in hf(f"run-{r}") if x["command"] == kind]
    cpu[kind] = statistics.mean(x["user"] + x["system"] for x in rows)
lines.append(f"| run --rm, CPU (user + system, mean of the rounds' means) | {ms(cpu['plain'])} plain, {ms(cpu['policy'])} with the cached check: "
             f"{(cpu['policy'] - cpu['plain']) * 1000:+.2f} ms | | callgrind cannot count run: valgrind 3.19 lacks openat2 |")
lines += ["", "| version ordering (pairs/s) | netctl | peer |", "|---|---|---|"]
fmt = lambda key: f"{int(rates[key]):,}" if key in rates else "—"
lines.append(f"| Debian | {fmt('netctl-debian')} | dpkg --compare-versions {fmt('dpkg-process')} (a process per pair); libapt apt_pkg.version_compare {fmt('apt_pkg')} (in-process) |")
lines.append(f"| PEP 440 | {fmt('netctl-pep440')} | packaging Version parse + compare {fmt('packaging')} (in-process) |")
lines.append(f"| RPM | {fmt('netctl-rpm')} | rpm.vercmp {fmt('rpm-lua')} (one rpm lua run) |")
lines.append(f"| SemVer (npm) | {fmt('netctl-semver')} | |")
if os.path.exists(os.path.join(work, "startup-before-version.ir")):
    lines += ["", f"| start-up (medians of {rounds} alternating rounds) | this netctl | before | instructions this / before |", "|---|---|---|---|"]
    for row, label in [("version", "--version"), ("connect", "network connect (bridge)")]:
        wall = {}
        for w in ("after", "before"):
            samples = []
            for r in range(1, int(rounds) + 1):
                name = f"startup-version-{r}" if row == "version" else f"startup-connect-{w}-{r}"
                samples += [x for x in hf(name) if x["command"] == w][0]["times"]
            wall[w] = statistics.median(samples)
        irs = {w: int(open(os.path.join(work, f"startup-{w}-{row}.ir")).read().strip() or 0) for w in ("after", "before")}
        cell = lambda w: f"{ms(wall[w])}, {irs[w]:,} instr." if irs[w] else ms(wall[w])
        ratio = f"{irs['after'] / irs['before']:.3f}" if irs["after"] and irs["before"] else "—"
        lines.append(f"| {label} | {cell('after')} | {cell('before')} | {ratio} |")
    binary = {w: open(os.path.join(work, f"startup-{w}-binary")).read().split() for w in ("after", "before")}
    lines.append(f"| binary: conformance records, size | {int(binary['after'][0]):,}, {int(binary['after'][1]) / 1e6:.1f} MB | "
                 f"{int(binary['before'][0]):,}, {int(binary['before'][1]) / 1e6:.1f} MB | {int(binary['after'][0]) / int(binary['before'][0]):.3f} |")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "scan.txt"), "w").write(text + "\n")
EOF
