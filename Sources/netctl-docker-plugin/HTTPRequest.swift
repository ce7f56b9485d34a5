/// One HTTP/1.1 request as the plugin needs it: the method, the path and the body.
/// The reader is pure (bytes in, request out) so that Fuzz/'s FuzzPlugins can drive it.
struct HTTPRequest {
    var method: String
    var path: String
    var body: [UInt8]
    var keepAlive: Bool
}

extension HTTPRequest {
    /// Bounds on what a connection may send: Docker's requests are a few KiB.
    static let maximumHead = 16 * 1024
    static let maximumBody = 1024 * 1024

    /// Whether the complete head at the start of `buffer` asks for `100 Continue`.
    static func expectsContinue(_ buffer: [UInt8]) -> Bool {
        guard let headEnd = find([13, 10, 13, 10], in: buffer, from: 0) else { return false }
        return String(decoding: buffer[..<headEnd], as: UTF8.self).lowercased().contains("\r\nexpect: 100-continue")
    }

    /// A whole request at the start of `buffer` and the bytes it took; nil: not complete yet.
    static func parse(_ buffer: [UInt8]) throws(PluginError) -> (HTTPRequest, Int)? {
        guard let headEnd = find([13, 10, 13, 10], in: buffer, from: 0) else {
            if buffer.count > maximumHead { throw PluginError("request head is over \(maximumHead) bytes", status: 400) }
            return nil
        }
        guard headEnd <= maximumHead else { throw PluginError("request head is over \(maximumHead) bytes", status: 400) }
        let lines = String(decoding: buffer[..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let words = lines[0].split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 3, words[2].hasPrefix("HTTP/1.") else {
            throw PluginError("malformed request line \"\(lines[0].prefix(80))\": expected METHOD PATH HTTP/1.1", status: 400)
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                throw PluginError("malformed header line \"\(line.prefix(80))\": expected NAME: VALUE", status: 400)
            }
            headers[line[..<colon].lowercased()] = trimmed(line[line.index(after: colon)...])
        }
        var keepAlive = words[2] != "HTTP/1.0"
        if let connection = headers["connection"]?.lowercased() { keepAlive = connection == "keep-alive" || (keepAlive && connection != "close") }
        var start = headEnd + 4
        var body: [UInt8] = []
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            // size CRLF data CRLF … 0 CRLF CRLF (no trailers from Go's client)
            while true {
                guard let lineEnd = find([13, 10], in: buffer, from: start) else { return nil }
                let sizeText = String(decoding: buffer[start..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(trimmed(sizeText), radix: 16), size >= 0 else {
                    throw PluginError("malformed chunk size \"\(sizeText.prefix(20))\": expected hex digits", status: 400)
                }
                guard body.count + size <= maximumBody else { throw PluginError("request body is over \(maximumBody) bytes", status: 413) }
                let dataStart = lineEnd + 2
                guard buffer.count >= dataStart + size + 2 else { return nil }
                if size == 0 { return (HTTPRequest(method: String(words[0]), path: String(words[1]), body: body, keepAlive: keepAlive), dataStart + 2) }
                body += buffer[dataStart..<(dataStart + size)]
                start = dataStart + size + 2
            }
        }
        let length: Int
        if let text = headers["content-length"] {
            guard let value = Int(text), value >= 0 else { throw PluginError("invalid Content-Length \"\(text.prefix(20))\": expected a byte count", status: 400) }
            length = value
        } else {
            length = 0
        }
        guard length <= maximumBody else { throw PluginError("request body of \(length) bytes is over \(maximumBody)", status: 413) }
        guard buffer.count >= start + length else { return nil }
        body = Array(buffer[start..<(start + length)])
        return (HTTPRequest(method: String(words[0]), path: String(words[1]), body: body, keepAlive: keepAlive), start + length)
    }

    static func trimmed(_ text: Substring) -> String {
        String(text.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }

    static func find(_ needle: [UInt8], in buffer: [UInt8], from start: Int) -> Int? {
        guard buffer.count >= needle.count, start <= buffer.count - needle.count else { return nil }
        for index in start...(buffer.count - needle.count) where buffer[index] == needle[0] {
            if Array(buffer[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}
