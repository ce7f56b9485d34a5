import FoundationEssentials

// The JSON of etcd's gateway (grpc-gateway over the v3 protos): field names as in the
// .proto files, bytes as base64, 64-bit integers as strings, and fields equal to their
// zero value left out, so every field here is optional and reads as zero when absent.

/// A 64-bit integer that the gateway writes as a string (`"revision":"12"`); a plain number
/// is read too.
struct WireInteger<Value: FixedWidthInteger & Codable & Sendable>: Codable, Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = Value(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not an integer")
            }
            self.value = value
        } else {
            value = try container.decode(Value.self)
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(value))
    }
}

typealias WireInt64 = WireInteger<Int64>
typealias WireUInt64 = WireInteger<UInt64>

/// Bytes as base64, the way protobuf's JSON writes `bytes` fields.
struct WireBytes: Codable, Sendable {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ string: String) { bytes = Array(string.utf8) }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not base64")
        }
        bytes = Array(data)
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Data(bytes).base64EncodedString())
    }
}

struct WireHeader: Codable, Sendable {
    var revision: WireInt64?
    var member_id: WireUInt64?
}

struct WireKeyValue: Codable, Sendable {
    var key: WireBytes?
    var value: WireBytes?
    var create_revision: WireInt64?
    var mod_revision: WireInt64?
    var version: WireInt64?
    var lease: WireInt64?

    var keyValue: EtcdClient.KeyValue {
        EtcdClient.KeyValue(key: String(decoding: key?.bytes ?? [], as: UTF8.self), value: value?.bytes ?? [],
                            createRevision: create_revision?.value ?? 0, modRevision: mod_revision?.value ?? 0,
                            version: version?.value ?? 0, lease: lease?.value ?? 0)
    }
}

// Requests.

struct WireRangeRequest: Codable, Sendable {
    var key: WireBytes
    var range_end: WireBytes?
}

struct WirePutRequest: Codable, Sendable {
    var key: WireBytes
    var value: WireBytes
    var lease: WireInt64?
}

struct WireDeleteRangeRequest: Codable, Sendable {
    var key: WireBytes
    var range_end: WireBytes?
}

struct WireCompare: Codable, Sendable {
    var result = "EQUAL"
    var target: String  // CREATE, MOD, VALUE
    var key: WireBytes
    var create_revision: WireInt64?
    var mod_revision: WireInt64?
    var value: WireBytes?
}

struct WireRequestOp: Codable, Sendable {
    var request_range: WireRangeRequest?
    var request_put: WirePutRequest?
    var request_delete_range: WireDeleteRangeRequest?
}

struct WireTxnRequest: Codable, Sendable {
    var compare: [WireCompare]
    var success: [WireRequestOp]
    var failure: [WireRequestOp]
}

struct WireLeaseRequest: Codable, Sendable {
    var ID: WireInt64?
    var TTL: WireInt64?
}

struct WireCompactionRequest: Codable, Sendable {
    var revision: WireInt64
    var physical: Bool?
}

struct WireWatchRequest: Codable, Sendable {
    struct Create: Codable, Sendable {
        var key: WireBytes
        var range_end: WireBytes?
        var start_revision: WireInt64?
        var progress_notify: Bool?
    }
    var create_request: Create
}

struct WireEmpty: Codable, Sendable {}

// Responses.

struct WireRangeResponse: Codable, Sendable {
    var header: WireHeader?
    var kvs: [WireKeyValue]?
}

struct WireHeaderResponse: Codable, Sendable {
    var header: WireHeader?
}

struct WireTxnResponse: Codable, Sendable {
    var header: WireHeader?
    var succeeded: Bool?
}

struct WireLeaseResponse: Codable, Sendable {
    var header: WireHeader?
    var ID: WireInt64?
    var TTL: WireInt64?
    var error: String?
}

/// lease/keepalive is a stream in gRPC; the gateway wraps each answer in `result`.
struct WireStreamed<Result: Codable & Sendable>: Codable, Sendable {
    var result: Result?
    var error: WireStreamError?
}

struct WireStreamError: Codable, Sendable {
    var grpc_code: Int?
    var http_code: Int?
    var message: String?
}

struct WireStatusResponse: Codable, Sendable {
    var header: WireHeader?
    var version: String?
    var leader: WireUInt64?
}

struct WireMemberListResponse: Codable, Sendable {
    struct Member: Codable, Sendable {
        var ID: WireUInt64?
        var name: String?
        var clientURLs: [String]?
    }
    var members: [Member]?
}

struct WireWatchResponse: Codable, Sendable {
    struct Event: Codable, Sendable {
        var type: String?  // absent for PUT, "DELETE"
        var kv: WireKeyValue?
    }
    var header: WireHeader?
    var created: Bool?
    var canceled: Bool?
    var compact_revision: WireInt64?
    var cancel_reason: String?
    var events: [Event]?
}

/// The body of a gateway error (HTTP status other than 200).
struct WireErrorBody: Codable, Sendable {
    var error: String?
    var message: String?
    var code: Int?
}
