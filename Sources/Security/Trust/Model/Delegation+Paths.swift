extension Delegation {
    /// Whether this delegation may sign `path`: Notary's paths are prefixes (`""` is all),
    /// TUF's shell patterns matched part by part between slashes (the client's `fnmatch`,
    /// Python's), or hex prefixes of the path's sha256; as `TrustedCollection` looks it up.
    func covers(_ path: String, dialect: TrustDialect) -> Bool {
        if let prefixes = pathHashPrefixes, !prefixes.isEmpty {
            let digest = TrustEncoding.hex(TrustDigest.sha256(Array(path.utf8)))
            if prefixes.contains(where: { digest.hasPrefix($0) }) { return true }
        }
        guard let paths else { return false }
        switch dialect {
        case .notary: return paths.contains { path.hasPrefix($0) }
        case .tuf:
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            return paths.contains { pattern in
                let patternParts = pattern.split(separator: "/", omittingEmptySubsequences: false)
                return patternParts.count == parts.count && zip(patternParts, parts).allSatisfy { fnmatch(Array($0.utf8), Array($1.utf8)) }
            }
        }
    }

    var pathsDescription: String {
        if let pathHashPrefixes { return "hash prefixes " + pathHashPrefixes.joined(separator: ", ") }
        return (paths ?? []).map { "\"\($0)\"" }.joined(separator: ", ")
    }
}

/// Python's `fnmatch.fnmatchcase` on one path part: `*`, `?`, `[abc]`, `[!abc]`, `[a-z]`.
func fnmatch(_ pattern: [UInt8], _ name: [UInt8]) -> Bool {
    var p = 0, n = 0
    var star: (p: Int, n: Int)?
    while n < name.count {
        if p < pattern.count {
            switch pattern[p] {
            case UInt8(ascii: "*"):
                star = (p, n)
                p += 1
                continue
            case UInt8(ascii: "?"):
                p += 1
                n += 1
                continue
            case UInt8(ascii: "["):
                if let (matched, next) = matchClass(pattern, at: p, name[n]) {
                    if matched {
                        p = next
                        n += 1
                        continue
                    }
                } else if name[n] == UInt8(ascii: "[") {
                    // An unclosed bracket is a literal, as in Python.
                    p += 1
                    n += 1
                    continue
                }
            case let literal where literal == name[n]:
                p += 1
                n += 1
                continue
            default:
                break
            }
        }
        guard let last = star else { return false }
        star = (last.p, last.n + 1)
        p = last.p + 1
        n = last.n + 1
    }
    while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
    return p == pattern.count
}

/// A `[...]` class at `start`: whether `byte` is in it and where the pattern goes on; nil
/// when the bracket is never closed.
private func matchClass(_ pattern: [UInt8], at start: Int, _ byte: UInt8) -> (Bool, Int)? {
    var i = start + 1
    var negate = false
    if i < pattern.count && pattern[i] == UInt8(ascii: "!") {
        negate = true
        i += 1
    }
    var matched = false
    var first = true
    while i < pattern.count {
        let c = pattern[i]
        if c == UInt8(ascii: "]") && !first { return (matched != negate, i + 1) }
        first = false
        if i + 2 < pattern.count && pattern[i + 1] == UInt8(ascii: "-") && pattern[i + 2] != UInt8(ascii: "]") {
            if c <= byte && byte <= pattern[i + 2] { matched = true }
            i += 3
        } else {
            if c == byte { matched = true }
            i += 1
        }
    }
    return nil
}
