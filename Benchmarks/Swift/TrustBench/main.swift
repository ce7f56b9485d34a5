import Glibc
import Registry
import Security

// netctl-bench: content trust's in-process costs, for Benchmarks/trust.sh. Not a product:
// nothing links it, and the command line never pays for it.
//
//   netctl-bench verify BASE GUN TAG RUNS [ROOT]
//       The full chain (root → newer roots → timestamp → snapshot → targets → delegations
//       → TAG's length and sha256) from the static repository BASE/GUN/ (a directory,
//       file:///DIR, or http://HOST:PORT/PATH), each run from an empty trust state (a new
//       directory in $TMPDIR, else /tmp), ROOT (a root file) pinned or else trust on first
//       use. One line per run: milliseconds.
//   netctl-bench sign DIR GUN RUNS
//       A tag change in an existing collection: netctl makes a TUF collection (its keys
//       ecdsa, as `trust sign` makes them, and a delegation `releases`) in DIR/GUN, then
//       each run points tag 1.0 at a new manifest in `targets` and re-signs (targets,
//       snapshot, timestamp; keys decrypted once before), then writes the static files.
//       One line per run: milliseconds signing, milliseconds writing.

func milliseconds(since start: timespec) -> Double {
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    return Double(end.tv_sec - start.tv_sec) * 1000 + Double(end.tv_nsec - start.tv_nsec) / 1_000_000
}

/// `12.345`: microseconds are what a run can tell apart.
func decimal(_ milliseconds: Double) -> String {
    let micro = Int((milliseconds * 1000).rounded())
    let fraction = String(micro % 1000)
    return "\(micro / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}

func monotonic() -> timespec {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now
}

/// A line on standard error (fd 2: the C `stderr` global is not concurrency-safe).
func note(_ message: String) {
    let line = Array("netctl-bench: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    note(message)
    exit(1)
}

func readWhole(_ path: String) -> [UInt8] {
    guard let file = fopen(path, "rb") else { fail("\(path): \(String(cString: strerror(errno)))") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { return bytes }
        bytes += chunk[..<count]
    }
}

/// `rm -rf` of a directory the run made.
func removeTree(_ path: String) {
    guard let dir = opendir(path) else { unlink(path); return }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name == "." || name == ".." { continue }
        if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(path + "/" + name) } else { unlink(path + "/" + name) }
    }
    closedir(dir)
    rmdir(path)
}

func temporaryDirectory() -> String {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/netctl-bench-state.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fail("mkdtemp: \(String(cString: strerror(errno)))") }
    return String(cString: made)
}

func verify(base: String, gun: String, tag: String, runs: Int, rootPath: String?) {
    let pinned = rootPath.map(readWhole)
    for run in 0..<runs {
        let state = temporaryDirectory()
        let start = monotonic()
        let target: (file: TargetFile, role: RoleName)
        do {
            let source = try StaticTrustSource(base: base, gun: gun)
            let client = TrustClient(gun: gun, dialect: .tuf, source: source, state: TrustStateStore(directory: state, gun: gun),
                                     now: .now, trustedRoot: pinned)
            target = try client.update().target(tag)
        } catch {
            removeTree(state)
            fail("verify \(gun):\(tag): \(error)")
        }
        guard let hash = target.file.hashes["sha256"], hash.count == 32 else { fail("\(gun):\(tag): no sha256") }
        let elapsed = milliseconds(since: start)
        removeTree(state)
        if run == 0 { note("\(gun):\(tag) sha256:\(TrustEncoding.hex(hash)) (\(target.file.length) bytes, signed by \(target.role))") }
        print(decimal(elapsed))
    }
}

func sign(directory: String, gun: String, runs: Int) {
    do {
        let now = TrustTime.now
        let keys = try (0..<5).map { _ throws(TrustError) in try PrivateKey.generate(.ecdsa) }
        let (root, targets, snapshot, timestamp, releases) = (keys[0], keys[1], keys[2], keys[3], keys[4])
        var repository = try TrustRepository.create(gun: gun, dialect: .tuf, rootKeys: [root], targetsKey: targets,
                                                    snapshotKey: snapshot, timestampKey: timestamp, now: now)
        try repository.addDelegation("releases", keys: [releases.publicKey], threshold: 1, paths: ["*"])
        let ring = KeyRing([root, targets, snapshot, timestamp, releases], dialect: .tuf)
        func manifest(_ seed: Int) -> TargetFile {
            let bytes = Array(#"{"schemaVersion":2,"seed":\#(seed)}"#.utf8)
            return TargetFile(length: Int64(bytes.count), hashes: ["sha256": TrustDigest.sha256(bytes)])
        }
        try repository.setTarget("1.0", manifest(0), in: "releases")
        _ = try repository.sign(with: ring, now: now)
        try repository.writeStatic(to: directory + "/" + gun)
        for run in 1...runs {
            let start = monotonic()
            try repository.setTarget("1.0", manifest(run), in: TopRole.targets)
            let files = try repository.sign(with: ring, now: .now)
            let signing = milliseconds(since: start)
            let writeStart = monotonic()
            try repository.writeStatic(to: directory + "/" + gun)
            let writing = milliseconds(since: writeStart)
            if run == 1 { note("re-signed \(files.keys.sorted().joined(separator: ", "))") }
            print(decimal(signing), decimal(writing))
        }
    } catch {
        fail("sign: \(error)")
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "verify" where arguments.count == 5 || arguments.count == 6:
    guard let runs = Int(arguments[4]), runs > 0 else { fail("RUNS \"\(arguments[4])\": expected a positive number") }
    verify(base: arguments[1], gun: arguments[2], tag: arguments[3], runs: runs, rootPath: arguments.count == 6 ? arguments[5] : nil)
case "sign" where arguments.count == 4:
    guard let runs = Int(arguments[3]), runs > 0 else { fail("RUNS \"\(arguments[3])\": expected a positive number") }
    sign(directory: arguments[1], gun: arguments[2], runs: runs)
default:
    fail("usage: netctl-bench verify BASE GUN TAG RUNS [ROOT] | netctl-bench sign DIR GUN RUNS")
}
