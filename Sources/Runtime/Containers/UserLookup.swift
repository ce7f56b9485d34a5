import CRuntimeShim
import Glibc

/// `-u USER[:GROUP]` against the image's /etc/passwd and /etc/group, as Docker resolves
/// it: names must exist there, numbers need not; a user's own group and its supplementary
/// groups come from those files.
struct UserLookup {
    /// The image's layers, lowest first.
    let layers: [String]

    func resolve(_ text: String) throws -> (uid: UInt32, gid: UInt32, groups: [UInt32]) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw RuntimeError("invalid -u \"\(text)\": expected USER[:GROUP], names or numbers")
        }
        let passwd = try entries("etc/passwd")
        let groupFile = try entries("etc/group")
        var uid: UInt32
        var gid: UInt32 = 0
        var userName: String?
        if let number = UInt32(parts[0]) {
            uid = number
            if let entry = passwd.first(where: { $0.count > 3 && UInt32($0[2]) == number }) {
                gid = UInt32(entry[3]) ?? 0
                userName = entry[0]
            }
        } else if let entry = passwd.first(where: { $0.count > 3 && $0[0] == parts[0] }), let number = UInt32(entry[2]) {
            uid = number
            gid = UInt32(entry[3]) ?? 0
            userName = entry[0]
        } else {
            throw RuntimeError("invalid -u \"\(text)\": no user \"\(parts[0])\" in the image's /etc/passwd", exitCode: 125)
        }
        if parts.count == 2 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else if let entry = groupFile.first(where: { $0.count > 2 && $0[0] == parts[1] }), let number = UInt32(entry[2]) {
                gid = number
            } else {
                throw RuntimeError("invalid -u \"\(text)\": no group \"\(parts[1])\" in the image's /etc/group")
            }
        }
        var groups: [UInt32] = []
        if let userName {
            for entry in groupFile where entry.count > 3 {
                if entry[3].split(separator: ",").contains(Substring(userName)), let number = UInt32(entry[2]), number != gid {
                    groups.append(number)
                }
            }
        }
        for (id, kind) in [(uid, "uid"), (gid, "gid")] + groups.map({ ($0, "supplementary gid") }) {
            try Self.check(id, kind, in: "-u \"\(text)\"")
        }
        return (uid, gid, groups)
    }

    /// 4294967295 is (uid_t)-1, which setresuid and setresgid take as "leave unchanged":
    /// a container asked to run as it would keep root. Refused wherever an id comes in.
    static func check(_ id: UInt32, _ kind: String, in context: String) throws {
        guard id == UInt32.max else { return }
        throw RuntimeError("invalid \(context): \(kind) 4294967295 is reserved ((uid_t)-1 means \"unchanged\"); expected 0 to 4294967294")
    }

    /// The numbers in `USER[:GROUP]`, checked without an image (a saved profile's `-u`).
    static func checkNumbers(_ text: String) throws {
        for (part, kind) in zip(text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false), ["uid", "gid"]) {
            if let number = UInt32(part) { try check(number, kind, in: "-u \"\(text)\"") }
        }
    }

    /// The file from the topmost layer that has it, as colon-separated fields per line.
    private func entries(_ path: String) throws -> [[String]] {
        let parts = RootDirectory.components(of: path)
        for layer in layers.reversed() {
            guard let root = try? RootDirectory(path: layer) else { continue }
            let fd = root.open(parts[...], flags: O_RDONLY | O_NONBLOCK)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            let name = "the image's /\(path)"
            try requireRegularFile(fd, name: name, expected: "a text file")
            let bytes = try readAll(fd, name: name, limit: .text)
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map {
                $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            }
        }
        return []
    }
}
