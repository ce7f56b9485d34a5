import Glibc

/// dpkg's database: `var/lib/dpkg/status`, and the one-stanza files of
/// `var/lib/dpkg/status.d/` that distroless images carry instead. Stanzas of RFC 822-like
/// fields separated by blank lines (deb-control(5)); only the fields the inventory needs are
/// kept, and a stanza that is not whole is skipped on its own.
public enum DpkgStatus {
    /// The packages whose files are on disk: every status but `not-installed` and
    /// `config-files` (`hold ok installed` and `deinstall ok installed` packages are as
    /// installed as `install ok installed` ones, and `unpacked`/`half-configured` ones have
    /// their files in place).
    public static func parse(_ bytes: [UInt8], location: String) -> (packages: [InstalledPackage], skipped: [String]) {
        var packages: [InstalledPackage] = []
        var skipped: [String] = []
        var number = 0
        for stanza in ControlStanzas(bytes) {
            number += 1
            var package: String?, version: String?, status: String?, source: String?, architecture: String?
            var problem: String?
            for field in stanza.fields {
                switch field.name {
                case .malformed(let line): problem = problem ?? "line \(line): expected `Field: value`, got \(quoted(field.value))"
                case .named(let name):
                    if ControlStanzas.same(name, "Package") { package = field.value }
                    else if ControlStanzas.same(name, "Version") { version = field.value }
                    else if ControlStanzas.same(name, "Status") { status = field.value }
                    else if ControlStanzas.same(name, "Source") { source = field.value }
                    else if ControlStanzas.same(name, "Architecture") { architecture = field.value }
                }
            }
            if let status {
                let words = status.split(separator: " ")
                if words.count == 3, words[2] == "not-installed" || words[2] == "config-files" { continue }
                if words.count != 3 && problem == nil { problem = "Status \(quoted(status)): expected `want flag status`" }
            }
            let entry = package.map { "entry \(number) (\(quoted($0)))" } ?? "entry \(number)"
            if problem == nil {
                if package?.isEmpty ?? true { problem = "no Package field" }
                else if version?.isEmpty ?? true { problem = "no Version field" }
                else if version!.contains(where: { $0 == " " || $0 == "\t" }) { problem = "Version \(quoted(version!)): expected no spaces" }
            }
            if let problem {
                skipped.append("\(location): \(entry): \(problem)")
                continue
            }
            var sourceName = package!
            var sourceVersion: String?
            if let source, !source.isEmpty {
                // `Source: name (version)` when the binary's version differs (binNMUs).
                if let open = source.firstIndex(of: "("), source.hasSuffix(")") {
                    sourceName = String(source[..<open]).trimmingSpaces
                    sourceVersion = String(source[source.index(after: open)..<source.index(before: source.endIndex)]).trimmingSpaces
                } else {
                    sourceName = source
                }
            }
            packages.append(InstalledPackage(kind: .dpkg, name: package!, version: version!, sourceName: sourceName,
                                             sourceVersion: sourceVersion, architecture: architecture, location: location))
        }
        return (packages, skipped)
    }

    static func quoted(_ text: String) -> String {
        "\"" + (text.count > 60 ? String(text.prefix(60)) + "…" : text) + "\""
    }
}

/// Stanzas of deb-control(5) fields (dpkg's status, apk's installed database is similar but
/// one letter per line): blank lines separate stanzas; continuation lines (starting with a
/// space or tab) belong to the field above and are not needed, so are passed over.
struct ControlStanzas: Sequence, IteratorProtocol {
    enum Name {
        case named(ArraySlice<UInt8>)
        /// A line that is neither a field nor a continuation (its line number).
        case malformed(Int)
    }
    struct Field {
        var name: Name
        /// The value's bytes: made text only for the fields a parser keeps.
        var bytes: ArraySlice<UInt8>
        var value: String { ControlStanzas.text(bytes) }
    }
    struct Stanza { var fields: [Field] }

    private let bytes: [UInt8]
    private var position = 0
    private var line = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func next() -> Stanza? {
        // Over the raw buffer, ranges first and slices after: this is most of a status
        // file's parse, and array accesses cost a retain each in unoptimised builds.
        var ranges: [(name: Range<Int>?, value: Range<Int>, line: Int)] = []
        let count = bytes.count
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            while position < count {
                let start = position
                let end = memchr(base + start, 0x0A, count - start).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) } ?? count
                position = end + 1
                line += 1
                var lineEnd = end
                if lineEnd > start && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                var blank = true
                for at in start..<lineEnd where buffer[at] != 0x20 && buffer[at] != 0x09 { blank = false; break }
                if blank {
                    if ranges.isEmpty { continue }
                    return
                }
                let first = buffer[start]
                if first == 0x20 || first == 0x09 {
                    if ranges.isEmpty { ranges.append((nil, start..<lineEnd, line)) }
                    continue
                }
                if first == UInt8(ascii: "#") { continue }
                guard let colon = memchr(base + start, Int32(UInt8(ascii: ":")), lineEnd - start) else {
                    ranges.append((nil, start..<lineEnd, line))
                    continue
                }
                let at = base.distance(to: colon.assumingMemoryBound(to: UInt8.self))
                ranges.append((start..<at, (at + 1)..<lineEnd, line))
            }
        }
        guard !ranges.isEmpty else { return nil }
        return Stanza(fields: ranges.map { range in
            Field(name: range.name.map { .named(bytes[$0]) } ?? .malformed(range.line), bytes: bytes[range.value])
        })
    }

    /// The bytes as text without surrounding spaces and tabs.
    static func text(_ bytes: ArraySlice<UInt8>) -> String {
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Field names are case-insensitive (deb-control(5)).
    static func same(_ name: ArraySlice<UInt8>, _ expected: StaticString) -> Bool {
        guard name.count == expected.utf8CodeUnitCount else { return false }
        return expected.withUTF8Buffer { buffer in
            var index = name.startIndex
            for byte in buffer {
                if name[index] | 0x20 != byte | 0x20 { return false }
                index += 1
            }
            return true
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}
