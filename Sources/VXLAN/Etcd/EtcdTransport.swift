import CCurl
import FoundationEssentials
import Glibc
import Synchronization

/// HTTP/1.1 POSTs of JSON to etcd's gateway through libcurl, with failover between
/// endpoints and a deadline on every call. Easy handles are kept in a pool, so connections
/// (and TLS sessions) are reused; each call has a handle of its own, so calls from several
/// threads never share one.
final class EtcdTransport: @unchecked Sendable {
    let endpoints: [String]
    let tls: EtcdTLS?
    let timeout: Double
    /// A watch silent this long is treated as broken (needs the server to send progress
    /// notifications at least this often); nil: only a closed connection or failed TCP
    /// keep-alives end it.
    let watchSilenceLimit: Double?

    private struct State {
        var idle: [Handle] = []
        /// The endpoint that answered last, tried first.
        var preferred = 0
    }
    private let state = Mutex(State())
    private let headers: UnsafeMutablePointer<curl_slist>?

    final class Handle: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer
        init(_ raw: UnsafeMutableRawPointer) { self.raw = raw }
    }

    init(endpoints: [String], tls: EtcdTLS?, timeout: Double, watchSilenceLimit: Double?) throws {
        guard !endpoints.isEmpty else { throw EtcdError(.setup, "etcd: no endpoint given") }
        for endpoint in endpoints where !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
            throw EtcdError(.setup, "etcd endpoint \"\(endpoint)\": expected http://HOST:PORT or https://HOST:PORT")
        }
        guard timeout > 0 else { throw EtcdError(.setup, "etcd: timeout \(timeout) s: expected more than 0") }
        var reason = [CChar](repeating: 0, count: 256)
        if lc_load(&reason, reason.count) != 0 {
            throw EtcdError(.setup, "etcd: \(String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        for file in [tls?.caFile, tls?.certFile, tls?.keyFile].compactMap({ $0 }) where access(file, R_OK) != 0 {
            throw EtcdError(.setup, "etcd TLS file \(file): \(String(cString: strerror(errno)))")
        }
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.tls = tls
        self.timeout = timeout
        self.watchSilenceLimit = watchSilenceLimit
        // Expect: (empty) stops libcurl waiting for a 100 Continue before larger bodies.
        var list = lc_slist_append(nil, "Content-Type: application/json")
        list = lc_slist_append(list, "Expect:")
        headers = list
    }

    deinit {
        for handle in state.withLock({ $0.idle }) { lc_easy_cleanup(handle.raw) }
        lc_slist_free_all(headers)
    }

    /// POSTs `body` to `path` (`/v3/kv/range`) and returns the answer of status 200, or
    /// throws the gateway's error message. Tries the endpoints in turn while they cannot be
    /// connected to, all within `timeout`.
    func call(_ path: String, _ body: [UInt8], what: String, limit: Int) throws -> [UInt8] {
        let handle = try takeHandle()
        defer { giveBack(handle) }
        let sink = ResponseSink(limit: limit, consumer: nil)
        let (endpoint, status) = try perform(handle, path, body, what: what, sink: sink, streaming: false)
        guard status == 200 else { throw gatewayError(status: status, body: sink.bytes, endpoint: endpoint, what: what) }
        return sink.bytes
    }

    /// POSTs a streaming request and hands each chunk to `consumer` until it returns false
    /// (a normal end) or throws (the error is rethrown). The connection gets `timeout` to be
    /// made; after that only a broken connection or `watchSilenceLimit` ends it.
    func stream(_ path: String, _ body: [UInt8], what: String,
                consumer: @escaping (UnsafeRawBufferPointer) throws -> Bool) throws {
        // A handle of its own, closed after: its connection is given to the stream.
        guard let raw = lc_easy_init() else { throw EtcdError(.setup, "etcd: curl_easy_init failed") }
        let handle = Handle(raw)
        defer { lc_easy_cleanup(raw) }
        let sink = ResponseSink(limit: Int.max, consumer: consumer)
        let (endpoint, status) = try perform(handle, path, body, what: what, sink: sink, streaming: true)
        if let failure = sink.consumerError { throw failure }
        if sink.stopped { return }
        guard status == 200 else { throw gatewayError(status: status, body: sink.bytes, endpoint: endpoint, what: what) }
        throw EtcdError(.unreachable, "etcd at \(endpoint): \(what) ended by the server")
    }

    private func takeHandle() throws -> Handle {
        if let handle = state.withLock({ $0.idle.popLast() }) { return handle }
        guard let raw = lc_easy_init() else { throw EtcdError(.setup, "etcd: curl_easy_init failed") }
        return Handle(raw)
    }

    private func giveBack(_ handle: Handle) {
        state.withLock { $0.idle.append(handle) }
    }

    private func perform(_ handle: Handle, _ path: String, _ body: [UInt8], what: String,
                         sink: ResponseSink, streaming: Bool) throws -> (endpoint: String, status: Int) {
        let start = state.withLock { $0.preferred }
        let deadline = monotonicSeconds() + timeout
        var failures: [String] = []
        for attempt in 0..<endpoints.count {
            let index = (start + attempt) % endpoints.count
            let endpoint = endpoints[index]
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { break }
            // The endpoints left share what is left of the deadline for connecting, so a
            // dead first one leaves time for the next.
            let connectTimeout = remaining / Double(endpoints.count - attempt)
            sink.reset()
            let outcome = attemptOnce(handle, endpoint + path, body, sink: sink,
                                      connectTimeout: connectTimeout, totalTimeout: streaming ? nil : remaining)
            switch outcome {
            case .answered(let status):
                if attempt > 0 { state.withLock { $0.preferred = index } }
                return (endpoint, status)
            case .notConnected(let reason):
                failures.append(endpoints.count > 1 ? "\(endpoint): \(reason)" : reason)
            case .failed(let reason):
                if sink.stopped || sink.consumerError != nil { return (endpoint, 200) }
                if sink.overflowed {
                    throw EtcdError(.badAnswer, "etcd at \(endpoint): \(what): answer larger than \(sink.limit) bytes")
                }
                throw EtcdError(.unreachable, "etcd at \(endpoint): \(what): \(reason)")
            }
        }
        let names = endpoints.joined(separator: ", ")
        if failures.isEmpty { failures.append("no answer within \(formatSeconds(timeout))") }
        throw EtcdError(.unreachable, "etcd at \(names): unreachable (\(failures.joined(separator: "; ")))")
    }

    private enum Outcome {
        case answered(status: Int)
        /// No connection was made, so the request never reached etcd: safe to try the next.
        case notConnected(String)
        case failed(String)
    }

    private func attemptOnce(_ handle: Handle, _ url: String, _ body: [UInt8], sink: ResponseSink,
                             connectTimeout: Double, totalTimeout: Double?) -> Outcome {
        let curl = handle.raw
        lc_easy_reset(curl)
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
        defer { errorBuffer.deallocate() }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let code: CURLcode = body.withUnsafeBufferPointer { bodyBytes in
            _ = lc_setopt_str(curl, CURLOPT_URL, url)
            _ = lc_setopt_str(curl, CURLOPT_PROTOCOLS_STR, "http,https")
            // Timeouts by signals are not thread-safe; libcurl's own resolver thread is used.
            _ = lc_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
            _ = lc_setopt_long(curl, CURLOPT_POST, 1)
            _ = lc_setopt_ptr(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress ?? UnsafePointer(bitPattern: 1)!))
            _ = lc_setopt_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyBytes.count))
            _ = lc_setopt_ptr(curl, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headers))
            _ = lc_setopt_ptr(curl, CURLOPT_ERRORBUFFER, errorBuffer)
            _ = lc_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, max(1, Int(connectTimeout * 1000)))
            if let totalTimeout { _ = lc_setopt_long(curl, CURLOPT_TIMEOUT_MS, max(1, Int(totalTimeout * 1000))) }
            // A peer that vanishes without closing (host down, cable cut) is noticed by
            // TCP keep-alives after a few seconds instead of never.
            _ = lc_setopt_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
            _ = lc_setopt_long(curl, CURLOPT_TCP_KEEPIDLE, 2)
            _ = lc_setopt_long(curl, CURLOPT_TCP_KEEPINTVL, 1)
            if totalTimeout == nil, let watchSilenceLimit {
                _ = lc_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
                _ = lc_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, max(1, Int(watchSilenceLimit.rounded(.up))))
            }
            if let tls {
                if let caFile = tls.caFile { _ = lc_setopt_str(curl, CURLOPT_CAINFO, caFile) }
                if let certFile = tls.certFile { _ = lc_setopt_str(curl, CURLOPT_SSLCERT, certFile) }
                if let keyFile = tls.keyFile { _ = lc_setopt_str(curl, CURLOPT_SSLKEY, keyFile) }
            }
            _ = lc_setopt_write_callback(curl) { data, size, count, context in
                let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                return sink.receive(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
            }
            _ = lc_setopt_ptr(curl, CURLOPT_WRITEDATA, context)
            return lc_easy_perform(curl)
        }
        let reason = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: lc_easy_strerror(code))
        switch code {
        case CURLE_OK:
            var status = 0
            _ = lc_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
            return .answered(status: status)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST:
            return .notConnected(reason)
        case CURLE_OPERATION_TIMEDOUT:
            var connected = 0.0
            _ = lc_getinfo_double(curl, CURLINFO_CONNECT_TIME, &connected)
            if connected == 0 { return .notConnected(reason) }
            return .failed("unreachable (\(reason))")
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR
            where url.hasPrefix("https://") && tls?.certFile == nil:
            // etcd with --client-cert-auth closes the connection on a client without a
            // certificate, which libcurl reports as a failed read or write.
            return .failed("connection closed during TLS (\(reason)); etcd may require a client certificate and none was given")
        case CURLE_GOT_NOTHING where url.hasPrefix("http://"):
            return .failed("\(reason) (does it serve https?)")
        default:
            return .failed(reason)
        }
    }

    private func gatewayError(status: Int, body: [UInt8], endpoint: String, what: String) -> EtcdError {
        let answer = try? JSONDecoder().decode(WireErrorBody.self, from: Data(body))
        let message = answer?.message ?? answer?.error
            ?? "HTTP \(status): \(String(decoding: body.prefix(200), as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " "))"
        return EtcdError(.server(code: answer?.code ?? 0), "etcd at \(endpoint): \(what): \(message)")
    }
}

/// Where libcurl's write callback puts an answer: collected up to a limit, or handed on
/// chunk by chunk for a stream.
final class ResponseSink {
    let limit: Int
    let consumer: ((UnsafeRawBufferPointer) throws -> Bool)?
    private(set) var bytes: [UInt8] = []
    private(set) var overflowed = false
    /// The consumer asked to stop.
    private(set) var stopped = false
    private(set) var consumerError: Error?

    init(limit: Int, consumer: ((UnsafeRawBufferPointer) throws -> Bool)?) {
        self.limit = limit
        self.consumer = consumer
    }

    func reset() {
        bytes = []
        overflowed = false
    }

    /// False makes libcurl abort the transfer.
    func receive(_ chunk: UnsafeRawBufferPointer) -> Bool {
        if let consumer {
            do {
                if try consumer(chunk) { return true }
                stopped = true
            } catch {
                consumerError = error
            }
            return false
        }
        guard bytes.count + chunk.count <= limit else { overflowed = true; return false }
        bytes.append(contentsOf: chunk)
        return true
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
}
