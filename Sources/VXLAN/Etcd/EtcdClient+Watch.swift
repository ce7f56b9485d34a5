import FoundationEssentials

extension EtcdClient {
    public struct WatchEvent: Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case put, delete }
        public var kind: Kind
        /// For a delete: the key and the revision of the delete (`modRevision`), no value.
        public var keyValue: KeyValue
        /// The store's revision when the message carrying this event was sent.
        public var revision: Int64
    }

    /// Streams the events on keys under `prefix` from `fromRevision` on, in revision order,
    /// until `handler` returns false (a normal return) or the stream breaks (thrown). A
    /// start below the compacted revision throws `EtcdError` of kind `.compacted`: the
    /// caller reads the prefix again and watches on from the revision of that read.
    // etcdctl watch --prefix PREFIX --rev=REVISION
    public func watch(prefix: String, fromRevision: Int64, handler: (WatchEvent) -> Bool) throws {
        let request = WireWatchRequest(create_request: .init(key: Self.rangeStart(prefix), range_end: Self.rangeEnd(prefix),
                                                             start_revision: WireInt64(fromRevision), progress_notify: true))
        let body = try Array(JSONEncoder().encode(request))
        let what = "watch \(prefix) from revision \(fromRevision)"
        var stream = WatchStream(context: "etcd at \(endpoints.joined(separator: ", ")): \(what)", fromRevision: fromRevision)
        // The handler is only called during this function, on this thread: libcurl runs the
        // write callback inside curl_easy_perform.
        try withoutActuallyEscaping(handler) { handler in
            try transport.stream("/v3/watch", body, what: what) { chunk in
                try stream.read(chunk, handler)
            }
        }
    }

    /// Reads the body of a `/v3/watch` answer as the gateway sends it, a stream of JSON
    /// objects cut anywhere into chunks: `{"result":{"header":…,"events":[…]}}` per message,
    /// `{"error":{…}}` when the stream fails, the gateway's plain error body when it never
    /// started. Public so that a fuzzer reads streams through the code `watch` uses.
    public struct WatchStream {
        /// Starts every error's line: `etcd at ENDPOINTS: watch PREFIX from revision N`.
        let context: String
        let fromRevision: Int64
        private var splitter = JSONObjectSplitter(limit: EtcdClient.watchMessageLimit)
        private let decoder = JSONDecoder()

        public init(context: String, fromRevision: Int64) {
            self.context = context
            self.fromRevision = fromRevision
        }

        /// Hands `handler` the events `chunk` completes, in order; returns false as soon as
        /// `handler` does. Throws `EtcdError`: `.compacted` for a start below the compacted
        /// revision, `.server` for an error or a cancel, `.badAnswer` for anything else.
        public mutating func read(_ chunk: UnsafeRawBufferPointer, _ handler: (WatchEvent) throws -> Bool) throws -> Bool {
            let objects: [[UInt8]]
            do { objects = try splitter.append(chunk) } catch JSONObjectSplitter.Failure.tooLarge {
                throw EtcdError(.badAnswer, "\(context): a message larger than \(EtcdClient.watchMessageLimit) bytes")
            } catch {
                throw EtcdError(.badAnswer, "\(context): not a stream of JSON objects")
            }
            for object in objects {
                // An error before the stream started is the gateway's plain error body;
                // one during it comes as {"error":{"grpc_code":…,"message":…}}.
                guard let message = try? decoder.decode(WireStreamed<WireWatchResponse>.self, from: Data(object)) else {
                    if let refusal = try? decoder.decode(WireErrorBody.self, from: Data(object)), let text = refusal.message ?? refusal.error {
                        throw EtcdError(.server(code: refusal.code ?? 0), "\(context): \(text)")
                    }
                    throw EtcdError(.badAnswer, "\(context): unexpected message \(String(decoding: object.prefix(120), as: UTF8.self))")
                }
                if let error = message.error {
                    throw EtcdError(.server(code: error.grpc_code ?? 0), "\(context): \(error.message ?? "error")")
                }
                guard let result = message.result else { continue }
                if let compacted = result.compact_revision?.value, compacted > 0 {
                    throw EtcdError(.compacted(compactRevision: compacted),
                                    "\(context): revision \(fromRevision) is compacted (history starts at \(compacted))")
                }
                if result.canceled == true {
                    throw EtcdError(.server(code: 0), "\(context): canceled by the server (\(result.cancel_reason ?? "no reason given"))")
                }
                let revision = result.header?.revision?.value ?? 0
                for event in result.events ?? [] {
                    let kind: WatchEvent.Kind = event.type == "DELETE" ? .delete : .put
                    guard let keyValue = event.kv?.keyValue else { continue }
                    if try !handler(WatchEvent(kind: kind, keyValue: keyValue, revision: revision)) { return false }
                }
            }
            return true
        }
    }
}
