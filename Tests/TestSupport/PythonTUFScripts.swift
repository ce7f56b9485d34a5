import Foundation

/// python-tuf's side of the static-repository interop tests, through
/// Tests/Fixtures/python-tuf/pytuf.py (which Benchmarks/trust.sh runs too): repositories
/// built with its Metadata API, and its `ngclient.Updater` reading any repository over HTTP.
extension PythonTUF {
    /// Tests/Fixtures/python-tuf/pytuf.py.
    public static var script: String {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent("Tests/Fixtures/python-tuf/pytuf.py").path
    }

    /// A target as python-tuf's Updater reported it.
    public struct TargetInfo: Equatable, Sendable {
        public var path: String
        public var length: Int
        public var sha256: String
        public init(path: String, length: Int, sha256: String) {
            self.path = path
            self.length = length
            self.sha256 = sha256
        }
    }

    /// What the Updater concluded: the target, no such target, or the refusal it raised
    /// (`UnsignedMetadataError: releases was signed by 0/1 keys`).
    public enum Lookup: Equatable, Sendable {
        case found(TargetInfo)
        case notFound
        case refused(String)
    }

    /// A new repository in `repository` (N.root.json, root.json, N.targets.json,
    /// N.releases.json, N.snapshot.json, timestamp.json; consistent snapshots): root
    /// (ed25519), targets (ecdsa) delegating every path to `releases` (ed25519) which signs
    /// `tag`, snapshot (ed25519), timestamp (ecdsa). Private keys go to `keys`.
    public static func buildRepository(_ repository: String, keys: String, tag: String, length: Int, sha256: String) throws {
        try runScript(["build", "--repo", repository, "--keys", keys, "--tag", tag, "--length", "\(length)", "--sha256", sha256])
    }

    /// Root version +1 with the root key replaced (ed25519 → ecdsa, signed by both) and the
    /// timestamp key too, and a timestamp the new timestamp key signs.
    public static func rotateRoot(_ repository: String, keys: String) throws {
        try runScript(["rotate", "--repo", repository, "--keys", keys])
    }

    /// `tag` added to (or changed in) `releases`; releases, snapshot and timestamp re-signed.
    public static func signTarget(_ repository: String, keys: String, tag: String, length: Int, sha256: String) throws {
        try runScript(["sign", "--repo", repository, "--keys", keys, "--tag", tag, "--length", "\(length)", "--sha256", sha256])
    }

    /// ngclient.Updater from the trusted root file `root` against `url` (the collection's,
    /// ending in `/`), from an empty metadata directory: refresh, then `tag`'s target info.
    public static func lookup(url: String, root: String, tag: String) throws -> Lookup {
        let output = try runScript(["get", "--url", url, "--root", root, "--tag", tag], allowing: [0, 1, 2])
        guard let line = output.split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw HarnessError("pytuf.py get: unexpected output \(output)")
        }
        if let path = object["path"] as? String, let length = object["length"] as? Int, let sha256 = object["sha256"] as? String {
            return .found(TargetInfo(path: path, length: length, sha256: sha256))
        }
        if let error = object["error"] as? String { return .refused(error) }
        return .notFound
    }

    @discardableResult
    private static func runScript(_ arguments: [String], allowing statuses: Set<Int32> = [0]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw HarnessError("python-tuf: no venv at \(python); run `make deps` (it installs tuf into .build-venv)")
        }
        let result = try runCommand([python, script] + arguments, environment: ["PYTHONDONTWRITEBYTECODE": "1"])
        guard statuses.contains(result.status) else {
            throw HarnessError("pytuf.py \(arguments.first ?? "") failed (exit \(result.status)): \(result.stderr.split(separator: "\n").suffix(8).joined(separator: "\n"))")
        }
        return result.stdout
    }
}
