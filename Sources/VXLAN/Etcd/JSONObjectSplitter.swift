/// Cuts a byte stream of concatenated JSON objects (`{"result":{…}}\n{"result":{…}}`) into
/// whole objects, whatever the chunk boundaries: an object may arrive in pieces, and one
/// chunk may hold several. It counts braces outside strings, so it needs no newline between
/// objects, and braces inside keys or values do not confuse it.
struct JSONObjectSplitter {
    /// Largest object accepted; a longer one is a broken or hostile stream.
    let limit: Int
    private var pending: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// Where in `pending` scanning resumes.
    private var scanned = 0

    init(limit: Int) { self.limit = limit }

    enum Failure: Error { case tooLarge, notJSON }

    /// Appends a chunk and returns the objects it completed, in order.
    mutating func append(_ chunk: UnsafeRawBufferPointer) throws(Failure) -> [[UInt8]] {
        pending.append(contentsOf: chunk)
        var objects: [[UInt8]] = []
        var start = 0
        var index = scanned
        while index < pending.count {
            let byte = pending[index]
            if inString {
                if escaped { escaped = false }
                else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
            } else if depth == 0 {
                // Between objects only whitespace may come.
                switch byte {
                case UInt8(ascii: "{"): depth = 1; start = index
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): start = index + 1
                default: throw .notJSON
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        objects.append(Array(pending[start...index]))
                        start = index + 1
                    }
                default: break
                }
            }
            index += 1
        }
        pending.removeFirst(start)
        scanned = pending.count
        if pending.count > limit { throw .tooLarge }
        return objects
    }
}
