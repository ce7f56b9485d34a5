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
    /// Each delegated role's delegator, whose keys it was checked with. In TUF two roles
    /// may delegate to the same name with different keys; the file was checked against one
    /// of them only, so a lookup reaching it through the other must not trust it.
    public var delegators: [RoleName: RoleName]

    public init(root: SignedMetadata, timestamp: SignedMetadata, snapshot: SignedMetadata,
                targets: [RoleName: SignedMetadata], unverifiedRoles: [RoleName: TrustError] = [:],
                delegators: [RoleName: RoleName] = [:]) {
        self.root = root
        self.timestamp = timestamp
        self.snapshot = snapshot
        self.targets = targets
        self.unverifiedRoles = unverifiedRoles
        self.delegators = delegators
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
        var pending: [(role: RoleName, parent: RoleName?, depth: Int)] = [(TopRole.targets, nil, 0)]
        var visited = Set<RoleName>()
        while let (role, parent, depth) = pending.popLast() {
            guard visited.insert(role).inserted else { continue }
            if let parent, let checkedBy = delegators[role], checkedBy != parent {
                let error = TrustError.signature("valid signatures did not meet threshold for \(role): it was checked with the keys \(checkedBy) delegates to it, not those of \(parent)")
                if !visit(role, .failure(error)) { return }
                continue
            }
            if let error = unverifiedRoles[role] {
                if !visit(role, .failure(error)) { return }
                continue
            }
            guard let file = targets[role], case .targets(let metadata) = file.signed else { continue }
            if !visit(role, .success(metadata.targets[tag])) { return }
            guard depth < TrustClient.maximumDelegationDepth else { continue }
            var children: [(RoleName, RoleName?, Int)] = []
            for delegation in metadata.delegations where delegation.covers(tag, dialect: dialect) {
                children.append((delegation.name, role, depth + 1))
                if delegation.terminating {
                    pending.removeAll()
                    break
                }
            }
            pending += children.reversed()
        }
    }

    private static func describe(_ file: TargetFile) -> String {
        "sha256:\(TrustEncoding.hex(file.hashes["sha256"] ?? [])) (\(file.length) bytes)"
    }
}
