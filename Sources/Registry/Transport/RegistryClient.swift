import CCurl
import Glibc
import Synchronization

/// How to reach one registry: its scheme and TLS trust. Made by `RegistryConfiguration`
/// from the registry's name (certs.d, insecure registries, loopback).
public struct RegistryEndpoint: Sendable {
    /// `registry.example:5000`, as references name it (Docker Hub is `docker.io`).
    public var registry: String
    /// `https://registry.example:5000` (Docker Hub: `https://registry-1.docker.io`).
    public var baseURL: String
    /// A plain-HTTP base to fall back to when the registry is insecure (configured so, or
    /// loopback) and HTTPS cannot be spoken: nil otherwise.
    public var fallbackURL: String?
    /// PEM certificates to trust (certs.d CAs); nil: libcurl's default, the system's roots.
    public var caBundle: [UInt8]?
    /// With `caBundle`: a hashed directory of roots trusted beside it (the system's,
    /// `/etc/ssl/certs`), which OpenSSL reads one certificate at a time as a chain needs
    /// it, where a bundle of 140 roots would be parsed whole at every TLS handshake (~50 ms).
    /// Nil: `caBundle` alone.
    public var rootsDirectory: String?
    /// Client certificate and key for registries that ask for one (certs.d `*.cert`/`*.key`).
    public var clientCertificate: String?
    public var clientKey: String?
    /// False only for insecure registries, which Docker also talks to without verifying.
    public var verifyPeer: Bool
    /// Who to be: from the auth file (nil: anonymous).
    public var credentials: RegistryCredentials?
    /// Where credentials were looked for, and what the auth file said instead of
    /// credentials (a credential helper netctl does not run): for a denied request's message.
    public var authFile: String?
    public var credentialHelper: String?
    /// The certs.d directories looked at for this registry, for an untrusted certificate's
    /// message.
    public var trustDirectories: [String]

    public init(registry: String, baseURL: String, fallbackURL: String? = nil, caBundle: [UInt8]? = nil,
                clientCertificate: String? = nil, clientKey: String? = nil, verifyPeer: Bool = true,
                credentials: RegistryCredentials? = nil, authFile: String? = nil, credentialHelper: String? = nil,
                trustDirectories: [String] = []) {
        self.registry = registry
        self.baseURL = baseURL
        self.fallbackURL = fallbackURL
        self.caBundle = caBundle
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.verifyPeer = verifyPeer
        self.credentials = credentials
        self.authFile = authFile
        self.credentialHelper = credentialHelper
        self.trustDirectories = trustDirectories
    }
}

/// HTTP to one registry through libcurl (loaded on first use, so commands that never
/// touch a registry never load it). Easy handles are pooled, so connections and TLS
/// sessions are reused; each exchange has a handle of its own, so threads (parallel layer
/// downloads) never share one.
public final class RegistryClient: @unchecked Sendable {
    public let endpoint: RegistryEndpoint
    /// Seconds to make a connection; a transfer that then moves less than 1 byte/s for
    /// `stallSeconds` is broken.
    public var connectSeconds = 15.0
    public var stallSeconds = 30
    /// Idle easy handles, as addresses (a raw pointer is not Sendable).
    private let idle = Mutex<[UInt]>([])
    /// What `send` learnt: how the registry wants to be authenticated, its tokens, whether
    /// it speaks only plain HTTP.
    let session = Mutex(Session())

    public init(endpoint: RegistryEndpoint) throws {
        var reason = [CChar](repeating: 0, count: 256)
        if lc_load(&reason, reason.count) != 0 {
            throw RegistryError(.unreachable, "registry \(endpoint.registry): \(String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        self.endpoint = endpoint
    }

    deinit {
        for handle in idle.withLock({ $0 }) { lc_easy_cleanup(UnsafeMutableRawPointer(bitPattern: handle)) }
    }

    /// `/v2/team/app/manifests/1.4` on this registry.
    public func url(_ path: String) -> String { base + path }

    /// The base in use: `baseURL`, or `fallbackURL` once the registry turned out not to
    /// speak TLS.
    public var base: String {
        session.withLock { $0.plainHTTP } ? endpoint.fallbackURL ?? endpoint.baseURL : endpoint.baseURL
    }

    /// One exchange, no authentication and no retry: the building block of `send`.
    /// `sink` receives the body of a 2xx answer as it arrives; other bodies (and every
    /// body when `sink` is nil) are collected, up to `limit` bytes.
    func perform(_ request: HTTPRequest, limit: Int, sink: ((UnsafeRawBufferPointer) throws -> Void)?) throws(TransferFailure) -> HTTPResponse {
        let curl = takeHandle()
        defer { giveBack(curl) }
        let state = ExchangeState(limit: limit, sink: sink)
        var list: UnsafeMutablePointer<curl_slist>?
        // Expect: (empty) stops libcurl waiting for a 100 Continue before a large body.
        for line in request.headers + ["Expect:"] { list = lc_slist_append(list, line) }
        defer { lc_slist_free_all(list) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer[0] = 0
        defer { errorBuffer.deallocate() }
        if case .file(let path, let offset, let length) = request.body {
            state.uploadFD = open(path, O_RDONLY | O_CLOEXEC)
            guard state.uploadFD >= 0 else { throw .sink(RegistryError(.input, "open \(path): \(String(cString: strerror(errno)))")) }
            guard lseek(state.uploadFD, off_t(offset), SEEK_SET) == off_t(offset) else {
                close(state.uploadFD)
                throw .sink(RegistryError(.input, "seek \(path) to \(offset): \(String(cString: strerror(errno)))"))
            }
            state.uploadLeft = length
        }
        defer { if state.uploadFD >= 0 { close(state.uploadFD) } }

        let context = Unmanaged.passUnretained(state).toOpaque()
        let code: CURLcode = withBodyBytes(request.body) { bodyBytes in
            _ = lc_setopt_str(curl, CURLOPT_URL, request.url)
            _ = lc_setopt_str(curl, CURLOPT_PROTOCOLS_STR, "http,https")
            _ = lc_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
            _ = lc_setopt_ptr(curl, CURLOPT_ERRORBUFFER, errorBuffer)
            _ = lc_setopt_ptr(curl, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
            _ = lc_setopt_str(curl, CURLOPT_USERAGENT, "netctl")
            _ = lc_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Int(connectSeconds * 1000))
            _ = lc_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = lc_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, stallSeconds)
            _ = lc_setopt_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
            // Redirects are followed by the caller, which knows whether credentials may go
            // along (a blob's storage back end must not get the registry's token).
            _ = lc_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
            if let bundle = endpoint.caBundle {
                bundle.withUnsafeBytes { _ = lc_setopt_blob(curl, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
                if let directory = endpoint.rootsDirectory { _ = lc_setopt_str(curl, CURLOPT_CAPATH, directory) }
            }
            // certs.d speaks for the registry's host alone: its client certificate is not
            // shown to, and insecure does not cover, another server it names (a token realm,
            // a redirect's storage), as Docker keeps them per host.
            let onRegistryHost = hostPort(of: request.url) == hostPort(of: endpoint.baseURL)
            if onRegistryHost, let certificate = endpoint.clientCertificate { _ = lc_setopt_str(curl, CURLOPT_SSLCERT, certificate) }
            if onRegistryHost, let key = endpoint.clientKey { _ = lc_setopt_str(curl, CURLOPT_SSLKEY, key) }
            if !endpoint.verifyPeer, onRegistryHost {
                _ = lc_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, 0)
                _ = lc_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, 0)
            }
            switch request.method {
            case "GET": break
            case "HEAD": _ = lc_setopt_long(curl, CURLOPT_NOBODY, 1)
            default: _ = lc_setopt_str(curl, CURLOPT_CUSTOMREQUEST, request.method)
            }
            switch request.body {
            case .none:
                if request.method == "PUT" || request.method == "POST" || request.method == "PATCH" {
                    _ = lc_setopt_ptr(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: emptyBody))
                    _ = lc_setopt_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, 0)
                }
            case .bytes:
                _ = lc_setopt_ptr(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress ?? emptyBody))
                _ = lc_setopt_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyBytes.count))
            case .file(_, _, let length):
                _ = lc_setopt_long(curl, CURLOPT_UPLOAD, 1)
                _ = lc_setopt_off(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
                _ = lc_setopt_read_callback(curl) { buffer, size, count, context in
                    Unmanaged<ExchangeState>.fromOpaque(context!).takeUnretainedValue().readUpload(into: buffer!, capacity: size * count)
                }
                _ = lc_setopt_ptr(curl, CURLOPT_READDATA, context)
                // CURLOPT_UPLOAD means PUT; PATCH and POST keep their method.
                if request.method != "PUT" { _ = lc_setopt_str(curl, CURLOPT_CUSTOMREQUEST, request.method) }
            }
            _ = lc_setopt_header_callback(curl) { data, size, count, context in
                Unmanaged<ExchangeState>.fromOpaque(context!).takeUnretainedValue().header(UnsafeRawBufferPointer(start: data, count: size * count))
                return size * count
            }
            _ = lc_setopt_ptr(curl, CURLOPT_HEADERDATA, context)
            _ = lc_setopt_write_callback(curl) { data, size, count, context in
                let state = Unmanaged<ExchangeState>.fromOpaque(context!).takeUnretainedValue()
                if state.status == 0 { state.status = state.currentStatus }
                return state.receive(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
            }
            _ = lc_setopt_ptr(curl, CURLOPT_WRITEDATA, context)
            state.handle = curl
            return lc_easy_perform(curl)
        }
        var status = 0
        _ = lc_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        let reason = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: lc_easy_strerror(code))
        if let error = state.sinkError { throw .sink(error) }
        if state.overflowed { throw .tooLarge(limit) }
        switch code {
        case CURLE_OK:
            return HTTPResponse(status: status, headers: state.headers, body: state.body)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            throw .unknownHost(reason)
        case CURLE_COULDNT_CONNECT:
            var number = 0
            _ = lc_getinfo_long(curl, CURLINFO_OS_ERRNO, &number)
            throw .notConnected(number != 0 ? String(cString: strerror(Int32(number))) : reason)
        case CURLE_OPERATION_TIMEDOUT where status == 0 && state.received == 0:
            var connected = 0.0
            _ = lc_getinfo_double(curl, CURLINFO_CONNECT_TIME, &connected)
            throw connected == 0 ? .notConnected(reason) : .broken(reason)
        case CURLE_SSL_CONNECT_ERROR:
            throw .handshake(reason)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            throw .tls(reason)
        case _ where status == 0 && state.received == 0 && request.url.hasPrefix("https://") && endpoint.clientCertificate == nil:
            // A TLS 1.3 server that wants a client certificate closes the connection after
            // the handshake, which then reads as a reset: say what may be missing.
            throw .broken("\(reason) (no answer after the TLS handshake: if the registry wants a client certificate, its certs.d directory holds it as NAME.cert and NAME.key)")
        default:
            throw .broken(reason)
        }
    }

    private func withBodyBytes<T>(_ body: HTTPRequest.Body, _ run: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        if case .bytes(let bytes) = body { return bytes.withUnsafeBufferPointer(run) }
        return run(UnsafeBufferPointer(start: nil, count: 0))
    }

    private func takeHandle() -> UnsafeMutableRawPointer {
        if let address = idle.withLock({ $0.popLast() }), let handle = UnsafeMutableRawPointer(bitPattern: address) {
            return handle
        }
        return lc_easy_init()
    }

    /// Back to the pool with its options cleared (its connection kept): an idle handle must
    /// not point at the ended exchange's error buffer, header list and state.
    private func giveBack(_ handle: UnsafeMutableRawPointer) {
        lc_easy_reset(handle)
        idle.withLock { $0.append(UInt(bitPattern: handle)) }
    }
}

/// A non-null pointer for an empty body: libcurl takes a null POSTFIELDS as "read the body".
private nonisolated(unsafe) let emptyBody = UnsafePointer<UInt8>(bitPattern: 1)!

extension ExchangeState {
    /// The status of the response being received, asked of libcurl once its body starts.
    var currentStatus: Int {
        var status = 0
        if let handle { _ = lc_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status) }
        return status
    }
}
