import Glibc
import Runtime

/// One blob on its way into one repository: the distribution API's upload calls, each a
/// single exchange through `send` (which authenticates and retries).
///
///     HEAD  /v2/REPO/blobs/DIGEST                          is it there?
///     POST  /v2/REPO/blobs/uploads/?mount=DIGEST&from=OTHER  mount it from another repository
///     POST  /v2/REPO/blobs/uploads/                        start an upload → Location
///     PUT   LOCATION&digest=DIGEST  (the whole blob)       monolithic
///     PATCH LOCATION  Content-Range: START-END             chunked, each answer's Location next,
///     PUT   LOCATION&digest=DIGEST  (no body)              then closed with the digest
///
/// Bodies go up from the file (`HTTPRequest.Body.file`), never whole in memory.
struct BlobUpload {
    let client: RegistryClient
    let name: ImageName
    let blob: PushSource.Blob

    var repository: String { name.repository }

    /// Makes the blob present in `repository`: nothing when it is already there, a mount
    /// when one of `mountFrom` (repositories of the same registry said to hold it) has it,
    /// else an upload, in `chunkSize` pieces when that is given.
    func run(mountFrom: [String], chunkSize: Int64?) throws -> PushEvent.Outcome {
        if try exists() { return .exists }
        var location: String?
        for other in mountFrom where other != repository {
            let answer: Mount
            do {
                answer = try mount(from: other)
            } catch let error as RegistryError where error.kind == .denied {
                // `send` throws a 401 or 403 it could not authenticate past.
                answer = .refused
            }
            switch answer {
            case .mounted: return .mounted(from: other)
            case .upload(let next):
                // A 202 opened an upload session: use it rather than trying further mounts
                // (each would open another).
                location = next
            case .refused:
                // No read access to the other repository (a token without its scope), or a
                // registry that does not mount: upload as Docker then does.
                continue
            }
            break
        }
        let start = try location ?? self.start()
        if let chunkSize {
            try chunked(at: start, chunkSize: chunkSize)
        } else {
            try monolithic(at: start)
        }
        return .pushed
    }

    private var scopes: [AuthScope] { [.push(repository)] }

    // HEAD /v2/REPO/blobs/DIGEST
    func exists() throws -> Bool {
        let response = try client.send(HTTPRequest(method: "HEAD", url: client.url("/v2/\(repository)/blobs/\(blob.digest)")), scopes: scopes)
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw Self.failure(response, in: name, "blob \(blob.digest.short)")
        }
    }

    enum Mount {
        case mounted
        case upload(location: String)
        /// 401, 403 or 404: the mount is not to be had.
        case refused
    }

    // POST /v2/REPO/blobs/uploads/?mount=DIGEST&from=OTHER
    func mount(from other: String) throws -> Mount {
        let url = client.url("/v2/\(repository)/blobs/uploads/?mount=\(Self.escaped(blob.digest))&from=\(other)")
        // The token must allow reading the other repository too.
        let response = try client.send(HTTPRequest(method: "POST", url: url), scopes: scopes + [.pull(other)])
        switch response.status {
        case 201: return .mounted
        case 202: return .upload(location: try location(of: response, "mount of \(blob.digest.short) from \(other)"))
        case 401, 403, 404: return .refused
        default: throw Self.failure(response, in: name, "mount of blob \(blob.digest.short) from \(other)")
        }
    }

    // POST /v2/REPO/blobs/uploads/
    func start() throws -> String {
        let response = try client.send(HTTPRequest(method: "POST", url: client.url("/v2/\(repository)/blobs/uploads/")), scopes: scopes)
        guard response.status == 202 else { throw Self.failure(response, in: name, "upload of blob \(blob.digest.short)") }
        return try location(of: response, "upload of \(blob.digest.short)")
    }

    // PUT LOCATION&digest=DIGEST, the whole blob as the body.
    func monolithic(at location: String) throws {
        let request = HTTPRequest(
            method: "PUT", url: Self.closing(location, blob.digest), headers: ["Content-Type: application/octet-stream"],
            body: .file(path: blob.path, offset: 0, length: blob.size))
        try expectCreated(try client.send(request, scopes: scopes))
    }

    // PATCH LOCATION per chunk (Content-Range: START-END, inclusive), each answer naming
    // where the next goes; then PUT LOCATION&digest=DIGEST with no body.
    func chunked(at first: String, chunkSize: Int64) throws {
        var location = first
        var offset: Int64 = 0
        while offset < blob.size {
            let length = min(chunkSize, blob.size - offset)
            let end = offset + length - 1
            let request = HTTPRequest(
                method: "PATCH", url: location,
                headers: ["Content-Type: application/octet-stream", "Content-Range: \(offset)-\(end)"],
                body: .file(path: blob.path, offset: offset, length: length))
            let response = try client.send(request, scopes: scopes)
            guard response.status == 202 else {
                throw Self.failure(response, in: name, "chunk \(offset)-\(end) of blob \(blob.digest.short)")
            }
            // Range: 0-END, what the registry holds so far.
            if let range = response.header("Range"), !range.hasSuffix("-\(end)") {
                throw RegistryError(.server, "chunk \(offset)-\(end) of blob \(blob.digest.short) to \(repository): the registry holds \(range), expected 0-\(end)")
            }
            location = try self.location(of: response, "chunk of \(blob.digest.short)")
            offset += length
        }
        let close = HTTPRequest(method: "PUT", url: Self.closing(location, blob.digest), headers: ["Content-Type: application/octet-stream"])
        try expectCreated(try client.send(close, scopes: scopes))
    }

    private func expectCreated(_ response: HTTPResponse) throws {
        guard response.status == 201 || response.status == 204 else {
            throw Self.failure(response, in: name, "upload of blob \(blob.digest.short)")
        }
        // The registry checked the bytes against the digest it was given; a registry that
        // names another digest stored something else.
        if let answered = response.header("Docker-Content-Digest"), answered != blob.digest.description {
            throw RegistryError(.badContent, "upload of blob \(blob.digest.short) to \(repository): the registry stored \(answered)")
        }
    }

    private func location(of response: HTTPResponse, _ what: String) throws -> String {
        guard let location = response.header("Location"), !location.isEmpty else {
            throw RegistryError(.server, "\(what) to \(repository): the registry's answer (\(response.status)) has no Location")
        }
        return client.resolve(location: location)
    }

    /// The upload URL with `digest=` added to its query (it often has `_state=` already).
    static func closing(_ location: String, _ digest: Digest) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=\(escaped(digest))"
    }

    /// The registry's error answer as one line (pull's wording), or an unexpected success.
    static func failure(_ response: HTTPResponse, in name: ImageName, _ what: String) -> any Error {
        do { try ImagePuller.check(response, what: what, in: name) } catch { return error }
        return RegistryError(.server, "\(what): \(name.registry) answered HTTP \(response.status), which the distribution API does not give here")
    }

    /// `sha256%3AHEX`: the colon escaped, as Docker sends it in a query.
    static func escaped(_ digest: Digest) -> String { "sha256%3A\(digest.hex)" }
}
