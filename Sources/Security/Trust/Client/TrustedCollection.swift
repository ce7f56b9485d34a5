/// A collection as the client verified it: what `TrustClient.update` returns, and what
/// tags are looked up in.
public struct TrustedCollection: Sendable {
    public var root: SignedMetadata
    public var timestamp: SignedMetadata
    public var snapshot: SignedMetadata
    /// The top-level targets and every delegation loaded.
    public var targets: [RoleName: SignedMetadata]
    /// Delegations set aside, with why (under threshold, expired, missing): a lookup that
    /// reaches one of them fails with its error rather than passing it over.
    public var unverifiedRoles: [RoleName: TrustError]

    public init(root: SignedMetadata, timestamp: SignedMetadata, snapshot: SignedMetadata,
                targets: [RoleName: SignedMetadata], unverifiedRoles: [RoleName: TrustError] = [:]) {
        self.root = root
        self.timestamp = timestamp
        self.snapshot = snapshot
        self.targets = targets
        self.unverifiedRoles = unverifiedRoles
    }

    public var dialect: TrustDialect { root.dialect }

    /// Pre-order walk of delegations (TUF §5.6.7); `requiredRoles` (e.g. ["targets/secops"]) must each sign the same target.
    public func target(_ tag: String, requiredRoles: [RoleName] = []) throws(TrustError) -> (file: TargetFile, role: RoleName) {
        var found: (file: TargetFile, role: RoleName)?
        var signers: [RoleName: TargetFile] = [:]
        var refused: [RoleName: TrustError] = [:]
        var blocked: TrustError?
        walk(for: tag) { role, outcome in
            switch outcome {
            case .success(let file):
                if let file {
                    signers[role] = file
                    if found == nil { found = (file, role) }
                }
            case .failure(let error):
                // A role set aside before the tag was found could have held it: no answer
                // is trustworthy then (python-tuf fails loading it).
                guard found != nil else {
                    blocked = error
                    return false
                }
                refused[role] = error
            }
            return found == nil || !requiredRoles.isEmpty
        }
        if let blocked { throw blocked }
        guard let found else { throw .noTrustData("No valid trust data for \(tag)") }
        for role in requiredRoles {
            if let error = refused[role] { throw error }
            guard let file = signers[role] else { throw .noTrustData("No valid trust data for \(tag) signed by \(role)") }
            guard file.length == found.file.length, file.hashes["sha256"] == found.file.hashes["sha256"] else {
                throw .mismatch("\(tag): \(role) signed \(Self.describe(file)) but \(found.role) signed \(Self.describe(found.file))")
            }
        }
        return found
    }

    /// Every tag that a lookup resolves, with the file and role the lookup gives, by tag.
    public func allTargets() -> [(tag: String, file: TargetFile, role: RoleName)] {
        var tags = Set<String>()
        for file in targets.values {
            if case .targets(let metadata) = file.signed { tags.formUnion(metadata.targets.keys) }
        }
        return tags.sorted().compactMap { tag in
            (try? target(tag)).map { (tag, $0.file, $0.role) }
        }
    }

    /// python-tuf's `_preorder_depth_first_walk`: from targets, each role whose delegation
    /// covers the tag, depth first in the delegator's order; a terminating delegation that
    /// covers the tag ends the search after its own subtree. `visit` gets each role's entry
    /// for the tag (nil: none) or the error it was set aside with, and returns whether to go on.
    private func walk(for tag: String, _ visit: (RoleName, Result<TargetFile?, TrustError>) -> Bool) {
        var pending: [(role: RoleName, depth: Int)] = [(TopRole.targets, 0)]
        var visited = Set<RoleName>()
        while let (role, depth) = pending.popLast() {
            guard visited.insert(role).inserted else { continue }
            if let error = unverifiedRoles[role] {
                if !visit(role, .failure(error)) { return }
                continue
            }
            guard let file = targets[role], case .targets(let metadata) = file.signed else { continue }
            if !visit(role, .success(metadata.targets[tag])) { return }
            guard depth < TrustClient.maximumDelegationDepth else { continue }
            var children: [(RoleName, Int)] = []
            for delegation in metadata.delegations where delegation.covers(tag, dialect: dialect) {
                children.append((delegation.name, depth + 1))
                if delegation.terminating {
                    pending.removeAll()
                    break
                }
            }
            pending += children.reversed()
        }
    }

    private static func describe(_ file: TargetFile) -> String {
        "sha256:\(hex(file.hashes["sha256"] ?? [])) (\(file.length) bytes)"
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
