import FoundationEssentials

/// Files for TLS to etcd (PEM): the CA that signed etcd's certificate, and this client's
/// certificate and key when etcd asks for one (`--client-cert-auth`).
public struct EtcdTLS: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}

/// A synchronous client of etcd's v3 API through its JSON gateway (`/v3/kv/range`, …), the
/// way `etcdctl` and `curl` reach it; libcurl is loaded the first time one is made, so
/// commands that never talk to the cluster store never load it. Safe to use from several
/// threads at once.
///
/// Every call is bounded by `timeout`, connecting included; the endpoints are tried in turn
/// while they cannot be connected to (the request never reached etcd, so nothing is done
/// twice), and the one that answered is tried first next time.
public final class EtcdClient: @unchecked Sendable {
    public let endpoints: [String]
    public let tls: EtcdTLS?
    public let timeout: Double
    let transport: EtcdTransport

    /// Largest answer read for one call (a range of a whole prefix).
    static let answerLimit = 64 << 20
    /// Largest message of a watch stream.
    static let watchMessageLimit = 1 << 20

    /// - Parameters:
    ///   - endpoints: `https://198.18.1.5:2379`, `http://127.0.0.1:2379`.
    ///   - watchSilenceLimit: a watch that hears nothing for this long is ended as broken.
    ///     Watches ask for progress notifications, which etcd sends every
    ///     `--experimental-watch-progress-notify-interval` (10 minutes unless set): give a
    ///     limit above that interval. Without it, a watch ends when the connection closes or
    ///     TCP keep-alives fail (a host gone), not when the etcd process hangs.
    public init(endpoints: [String], tls: EtcdTLS? = nil, timeout: Double = 5, watchSilenceLimit: Double? = nil) throws {
        transport = try EtcdTransport(endpoints: endpoints, tls: tls, timeout: timeout, watchSilenceLimit: watchSilenceLimit)
        self.endpoints = transport.endpoints
        self.tls = tls
        self.timeout = timeout
    }

    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]
        public var createRevision: Int64
        public var modRevision: Int64
        public var version: Int64
        /// 0 when the key is not attached to a lease.
        public var lease: Int64

        public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64) {
            self.key = key
            self.value = value
            self.createRevision = createRevision
            self.modRevision = modRevision
            self.version = version
            self.lease = lease
        }
    }

    // MARK: Keys

    // etcdctl get KEY
    public func get(_ key: String) throws -> KeyValue? {
        let answer: WireRangeResponse = try call("/v3/kv/range", WireRangeRequest(key: WireBytes(key)), what: "get \(key)")
        return answer.kvs?.first?.keyValue
    }

    /// Every key under `prefix`, in key order, and the store's revision they were read at
    /// (watch from `revision + 1` to follow on without a gap).
    // etcdctl get --prefix PREFIX
    public func range(prefix: String) throws -> (items: [KeyValue], revision: Int64) {
        let what = "range \(prefix)"
        let answer = try send("/v3/kv/range", WireRangeRequest(key: Self.rangeStart(prefix), range_end: Self.rangeEnd(prefix)), what: what)
        return try Self.decodeRange(answer, context: "etcd at \(endpoints.joined(separator: ", ")): \(what)")
    }

    /// Reads the body of a `/v3/kv/range` answer as the gateway sends it: the keys and
    /// values, and the revision they were read at. Throws `EtcdError` (`.badAnswer`) whose
    /// line starts with `context`. Public so that a fuzzer reads answers through the code
    /// `range` uses.
    public static func decodeRange(_ answer: [UInt8], context: String) throws -> (items: [KeyValue], revision: Int64) {
        let decoded = try decode(WireRangeResponse.self, answer, context: context)
        return ((decoded.kvs ?? []).map(\.keyValue), decoded.header?.revision?.value ?? 0)
    }

    /// Returns the revision of the write.
    // etcdctl put KEY VALUE [--lease=ID]
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64? = nil) throws -> Int64 {
        let answer: WireHeaderResponse = try call("/v3/kv/put", WirePutRequest(key: WireBytes(key), value: WireBytes(value), lease: lease.map(WireInt64.init)),
                                                  what: "put \(key)")
        return answer.header?.revision?.value ?? 0
    }

    // etcdctl del KEY
    public func delete(_ key: String) throws {
        let _: WireHeaderResponse = try call("/v3/kv/deleterange", WireDeleteRangeRequest(key: WireBytes(key)), what: "delete \(key)")
    }

    // etcdctl del --prefix PREFIX
    public func delete(prefix: String) throws {
        let _: WireHeaderResponse = try call("/v3/kv/deleterange", WireDeleteRangeRequest(key: Self.rangeStart(prefix), range_end: Self.rangeEnd(prefix)),
                                             what: "delete prefix \(prefix)")
    }

    // MARK: Transactions

    /// A condition of a transaction on one key.
    public enum Compare: Sendable, Equatable {
        /// `equals: 0` holds when the key does not exist: create-if-absent.
        case createRevision(String, equals: Int64)
        /// The key was last written at this revision: nobody changed it since it was read.
        case modRevision(String, equals: Int64)
        case value(String, equals: [UInt8])
    }

    public enum Operation: Sendable, Equatable {
        case put(String, [UInt8], lease: Int64?)
        case delete(String)
        case deletePrefix(String)
        case get(String)
    }

    /// Applies `then` if every comparison holds, `else` otherwise, atomically: the
    /// compare-and-swap that cluster-scope records change by. Returns which branch ran and
    /// the revision after it.
    // etcdctl txn
    public func transaction(if compares: [Compare], then success: [Operation], else failure: [Operation] = []) throws
        -> (succeeded: Bool, revision: Int64) {
        let request = WireTxnRequest(compare: compares.map(Self.wire), success: success.map(Self.wire), failure: failure.map(Self.wire))
        let keys = compares.map(\.key).joined(separator: ", ")
        let answer: WireTxnResponse = try call("/v3/kv/txn", request, what: "transaction on \(keys.isEmpty ? "no key" : keys)")
        return (answer.succeeded ?? false, answer.header?.revision?.value ?? 0)
    }

    // MARK: Leases

    /// A lease of `ttl` seconds; keys put with it vanish when it expires.
    // etcdctl lease grant TTL
    public func grantLease(ttl: Int) throws -> Int64 {
        let answer: WireLeaseResponse = try call("/v3/lease/grant", WireLeaseRequest(TTL: WireInt64(Int64(ttl))), what: "grant lease of \(ttl) s")
        if let error = answer.error, !error.isEmpty { throw EtcdError(.server(code: 0), "etcd at \(endpoints[0]): grant lease of \(ttl) s: \(error)") }
        guard let id = answer.ID?.value, id != 0 else {
            throw EtcdError(.badAnswer, "etcd at \(endpoints.joined(separator: ", ")): grant lease of \(ttl) s: no lease ID in the answer")
        }
        return id
    }

    /// Renews the lease to its full TTL; returns that TTL, or 0 when the lease has expired
    /// (its keys are gone: grant a new one and write them again).
    // etcdctl lease keep-alive --once ID
    public func keepAlive(_ lease: Int64) throws -> Int {
        let what = "keep lease \(String(lease, radix: 16)) alive"
        do {
            // A stream in gRPC; the gateway answers one request with one `result`.
            let answer: WireStreamed<WireLeaseResponse> = try call("/v3/lease/keepalive", WireLeaseRequest(ID: WireInt64(lease)), what: what)
            if let error = answer.error { throw EtcdError(.server(code: error.grpc_code ?? 0), "etcd: \(what): \(error.message ?? "error")") }
            return Int(answer.result?.TTL?.value ?? 0)
        } catch let error as EtcdError where error.description.contains("requested lease not found") {
            return 0
        }
    }

    // etcdctl lease revoke ID
    public func revokeLease(_ lease: Int64) throws {
        let _: WireHeaderResponse = try call("/v3/lease/revoke", WireLeaseRequest(ID: WireInt64(lease)), what: "revoke lease \(String(lease, radix: 16))")
    }

    // MARK: Maintenance

    /// Drops the history before `revision`; watches from earlier revisions then fail with
    /// `.compacted`.
    // etcdctl compact REVISION
    public func compact(revision: Int64) throws {
        let _: WireHeaderResponse = try call("/v3/kv/compaction", WireCompactionRequest(revision: WireInt64(revision)), what: "compact to \(revision)")
    }

    /// The answering member's etcd version, the cluster's leader (0: none, no quorum) and
    /// the store's revision.
    // etcdctl endpoint status
    public func status() throws -> (version: String, leader: UInt64, revision: Int64) {
        let answer: WireStatusResponse = try call("/v3/maintenance/status", WireEmpty(), what: "status")
        return (answer.version ?? "", answer.leader?.value ?? 0, answer.header?.revision?.value ?? 0)
    }

    // etcdctl member list
    public func members() throws -> [(id: UInt64, name: String, clientURLs: [String])] {
        let answer: WireMemberListResponse = try call("/v3/cluster/member/list", WireEmpty(), what: "member list")
        return (answer.members ?? []).map { ($0.ID?.value ?? 0, $0.name ?? "", $0.clientURLs ?? []) }
    }

    // MARK: Plumbing

    private func call<Request: Encodable, Answer: Decodable>(_ path: String, _ request: Request, what: String) throws -> Answer {
        try Self.decode(Answer.self, try send(path, request, what: what), context: "etcd at \(endpoints.joined(separator: ", ")): \(what)")
    }

    private func send<Request: Encodable>(_ path: String, _ request: Request, what: String) throws -> [UInt8] {
        try transport.call(path, try Array(JSONEncoder().encode(request)), what: what, limit: Self.answerLimit)
    }

    private static func decode<Answer: Decodable>(_ type: Answer.Type, _ bytes: [UInt8], context: String) throws -> Answer {
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(bytes))
        } catch {
            throw EtcdError(.badAnswer, "\(context): unexpected answer \(String(decoding: bytes.prefix(120), as: UTF8.self))")
        }
    }

    static func rangeStart(_ prefix: String) -> WireBytes {
        // The empty key with range_end "\0" is every key.
        prefix.isEmpty ? WireBytes([0]) : WireBytes(prefix)
    }

    /// The first key after every key starting with `prefix`: its last byte below 0xff plus
    /// one (etcd's clientv3.GetPrefixRangeEnd); "\0" (every key) when there is none.
    static func rangeEnd(_ prefix: String) -> WireBytes {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return WireBytes(bytes)
            }
            bytes.removeLast()
        }
        return WireBytes([0])
    }

    private static func wire(_ compare: Compare) -> WireCompare {
        switch compare {
        case .createRevision(let key, let revision):
            WireCompare(target: "CREATE", key: WireBytes(key), create_revision: WireInt64(revision))
        case .modRevision(let key, let revision):
            WireCompare(target: "MOD", key: WireBytes(key), mod_revision: WireInt64(revision))
        case .value(let key, let value):
            WireCompare(target: "VALUE", key: WireBytes(key), value: WireBytes(value))
        }
    }

    private static func wire(_ operation: Operation) -> WireRequestOp {
        switch operation {
        case .put(let key, let value, let lease):
            WireRequestOp(request_put: WirePutRequest(key: WireBytes(key), value: WireBytes(value), lease: lease.map(WireInt64.init)))
        case .delete(let key):
            WireRequestOp(request_delete_range: WireDeleteRangeRequest(key: WireBytes(key)))
        case .deletePrefix(let prefix):
            WireRequestOp(request_delete_range: WireDeleteRangeRequest(key: rangeStart(prefix), range_end: rangeEnd(prefix)))
        case .get(let key):
            WireRequestOp(request_range: WireRangeRequest(key: WireBytes(key)))
        }
    }
}

extension EtcdClient.Compare {
    var key: String {
        switch self {
        case .createRevision(let key, _), .modRevision(let key, _), .value(let key, _): key
        }
    }
}
