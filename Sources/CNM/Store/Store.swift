import FoundationEssentials

/// Where CNM keeps this host's records: keys like `networks/ID`, `endpoints/NETWORK/ID`,
/// `sandboxes/ID`, values as JSON, changed under one lock (`locked`) that serializes the
/// host's commands. That lock covers one host only, so it does not carry over to records
/// that span hosts: networks of global scope, their VNIs and addresses live in the cluster
/// store (etcd), where every change is a transaction that compares the revisions it read
/// (see `GlobalNetworkDriver` and VXLAN's `ClusterCatalog`), never a lock.
public protocol Store: Sendable {
    func read(_ key: String) throws -> [UInt8]?
    /// Replaces the value atomically: a reader sees the old document or the new one.
    func write(_ key: String, _ value: [UInt8]) throws
    func delete(_ key: String) throws
    /// Every key below `prefix`, at any depth, sorted.
    func keys(under prefix: String) throws -> [String]
    /// Runs `body` holding the store's exclusive lock, which serializes every command that
    /// changes state, across processes.
    func locked<T>(_ body: () throws -> T) throws -> T
    /// Removes what interrupted writes left below `prefix` ("" for everything): temporary
    /// files of processes that are gone, and folders left empty. Returns what it removed,
    /// as paths a person can read.
    func sweep(under prefix: String) throws -> [String]
}

extension Store {
    /// A store whose writes leave nothing behind when interrupted has nothing to sweep.
    public func sweep(under prefix: String) throws -> [String] { [] }

    public func get<T: Decodable>(_ type: T.Type, _ key: String) throws -> T? {
        guard let bytes = try read(key) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw CNMError("state record \(key) is unreadable: \(error)")
        }
    }

    /// Pretty and sorted for records people read; `compact` for those a hot path writes
    /// several times per command (a container's state).
    public func put<T: Encodable>(_ key: String, _ value: T, compact: Bool = false) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = compact ? [] : [.prettyPrinted, .sortedKeys]
        try write(key, Array(try encoder.encode(value)))
    }

    public func all<T: Decodable>(_ type: T.Type, under prefix: String) throws -> [T] {
        try keys(under: prefix).compactMap { try get(T.self, $0) }
    }
}
