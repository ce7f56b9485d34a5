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
        let names = endpoints.joined(separator: ", ")
        var splitter = JSONObjectSplitter(limit: Self.watchMessageLimit)
        let decoder = JSONDecoder()
        // The handler is only called during this function, on this thread: libcurl runs the
        // write callback inside curl_easy_perform.
        try withoutActuallyEscaping(handler) { handler in
            try transport.stream("/v3/watch", body, what: what) { chunk in
                let objects: [[UInt8]]
                do { objects = try splitter.append(chunk) } catch JSONObjectSplitter.Failure.tooLarge {
                    throw EtcdError(.badAnswer, "etcd at \(names): \(what): a message larger than \(Self.watchMessageLimit) bytes")
                } catch {
                    throw EtcdError(.badAnswer, "etcd at \(names): \(what): not a stream of JSON objects")
                }
                for object in objects {
                    // An error before the stream started is the gateway's plain error body;
                    // one during it comes as {"error":{"grpc_code":…,"message":…}}.
                    guard let message = try? decoder.decode(WireStreamed<WireWatchResponse>.self, from: Data(object)) else {
                        if let refusal = try? decoder.decode(WireErrorBody.self, from: Data(object)), let text = refusal.message ?? refusal.error {
                            throw EtcdError(.server(code: refusal.code ?? 0), "etcd at \(names): \(what): \(text)")
                        }
                        throw EtcdError(.badAnswer, "etcd at \(names): \(what): unexpected message \(String(decoding: object.prefix(120), as: UTF8.self))")
                    }
                    if let error = message.error {
                        throw EtcdError(.server(code: error.grpc_code ?? 0), "etcd at \(names): \(what): \(error.message ?? "error")")
                    }
                    guard let result = message.result else { continue }
                    if let compacted = result.compact_revision?.value, compacted > 0 {
                        throw EtcdError(.compacted(compactRevision: compacted),
                                        "etcd at \(names): \(what): revision \(fromRevision) is compacted (history starts at \(compacted))")
                    }
                    if result.canceled == true {
                        throw EtcdError(.server(code: 0), "etcd at \(names): \(what): canceled by the server (\(result.cancel_reason ?? "no reason given"))")
                    }
                    let revision = result.header?.revision?.value ?? 0
                    for event in result.events ?? [] {
                        let kind: WatchEvent.Kind = event.type == "DELETE" ? .delete : .put
                        guard let keyValue = event.kv?.keyValue else { continue }
                        if !handler(WatchEvent(kind: kind, keyValue: keyValue, revision: revision)) { return false }
                    }
                }
                return true
            }
        }
    }
}
