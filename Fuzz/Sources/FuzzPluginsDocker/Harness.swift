import JSON

// netctl-docker-plugin's own HTTPRequest.swift and Body.swift are linked here (symlinks
// into Sources/netctl-docker-plugin), so the fuzzer runs the very code the plugin runs.

/// Bytes as a client writes them on the plugin's socket, read as the server reads them:
/// every complete request in the buffer, then its body as a handler reads it. A refusal
/// is one line with a 4xx status; a request takes bytes that are there.
public func fuzzDockerRequests(_ bytes: [UInt8]) {
    var buffer = bytes
    while !buffer.isEmpty {
        _ = HTTPRequest.expectsContinue(buffer)
        let parsed: (HTTPRequest, Int)?
        do {
            parsed = try HTTPRequest.parse(buffer)
        } catch {
            checkLine(error)
            precondition(error.status == 400 || error.status == 413, "\(error.status)")
            return
        }
        guard let (request, used) = parsed else { return }
        precondition(used > 0 && used <= buffer.count, "\(used) of \(buffer.count)")
        precondition(request.body.count <= HTTPRequest.maximumBody)
        fuzzDockerBody(request.body)
        buffer.removeFirst(used)
    }
}

/// A request body as the handlers read it.
public func fuzzDockerBody(_ bytes: [UInt8]) {
    let body: Body
    do {
        body = try Body(requestBody: bytes)
    } catch {
        checkLine(error)
        return
    }
    for (key, _) in body.json.members ?? [] {
        do { _ = try body.string(key, expected: "a string") } catch { checkLine(error) }
        do { _ = try body.optionalString(key, expected: "a string") } catch { checkLine(error) }
        do { _ = try body.object(key) } catch { checkLine(error) }
        do { _ = try body.array(key) } catch { checkLine(error) }
    }
}

private func checkLine(_ error: PluginError) {
    precondition(!error.description.isEmpty && !error.description.contains(where: \.isNewline), error.description)
}
