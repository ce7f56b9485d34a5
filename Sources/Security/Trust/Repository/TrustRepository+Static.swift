import Glibc

/// A static TUF repository: the signed files laid out as python-tuf's `ngclient.Updater`
/// and netctl's `StaticTrustSource` fetch them, for any web server to serve.
extension TrustRepository {
    /// Writes the files last signed into `directory` (`<base>/<GUN>` of a static source):
    /// `N.root.json` for every root version known and `root.json` (the newest, for a
    /// first fetch), `N.targets.json`, `N.<delegation>.json` and `N.snapshot.json` with
    /// consistent snapshots (`targets.json`, … without), `timestamp.json`, and an empty
    /// `targets/` (targets are image manifests, served by the registry). Files of earlier
    /// versions already there stay, so clients mid-update still find them; timestamp is
    /// written last, each file by rename, so a reader never sees half a repository.
    // python3 -m http.server -d DIRECTORY
    public func writeStatic(to directory: String) throws(TrustError) {
        guard files[TopRole.timestamp] != nil, files[TopRole.snapshot] != nil, files[TopRole.root] != nil else {
            throw .storage("\(named)\(directory): nothing signed to write (sign the collection first; in Notary the server signs snapshot and timestamp)")
        }
        try StaticRepositoryFiles.makeDirectories(directory + "/targets")
        let consistent = root.consistentSnapshot
        for role in files.keys.sorted() where role != TopRole.root && role != TopRole.snapshot && role != TopRole.timestamp {
            let name = consistent ? "\(fileVersions[role] ?? 0).\(role).json" : "\(role).json"
            try StaticRepositoryFiles.write(directory + "/" + name, files[role]!)
        }
        let snapshotName = consistent ? "\(fileVersions[TopRole.snapshot] ?? 0).snapshot.json" : "snapshot.json"
        try StaticRepositoryFiles.write(directory + "/" + snapshotName, files[TopRole.snapshot]!)
        for (version, file) in rootHistory.sorted(by: { $0.key < $1.key }) {
            try StaticRepositoryFiles.write(directory + "/\(version).root.json", file)
        }
        try StaticRepositoryFiles.write(directory + "/root.json", files[TopRole.root]!)
        try StaticRepositoryFiles.write(directory + "/timestamp.json", files[TopRole.timestamp]!)
    }
}

/// Files of a static repository, readable by any web server.
enum StaticRepositoryFiles {
    static func write(_ path: String, _ bytes: [UInt8]) throws(TrustError) {
        try TrustFiles.replace(path, with: bytes, mode: 0o644, directoryMode: 0o755)
    }

    static func makeDirectories(_ path: String) throws(TrustError) {
        try TrustFiles.makeDirectories(path, mode: 0o755)
    }
}
