import Glibc

/// Findings a user has accepted, in Trivy's `.trivyignore` form, one advisory a line:
///
///     # The loader never runs setuid in our images.
///     CVE-2023-4911
///     GHSA-jfh8-c2jp-5v3q exp:2026-03-01    # waiting for log4j 2.17 in the base image
///
/// An id matches a finding whose advisory has that id or alias (letter case aside). An
/// `exp:YYYY-MM-DD` entry ignores until that day (UTC) begins, as Trivy's does, and then
/// stops, so the finding comes back. The reason is the text after `#` on the line or,
/// when there is none, the comment lines just above it. Unlike Trivy, which skips what it
/// cannot read, a line that is not of this form is an error: a typo must not quietly
/// un-ignore, or ignore, anything.
public struct IgnoreFile: Hashable, Sendable {
    public struct Entry: Hashable, Sendable, Codable {
        /// The advisory id or alias as written (`CVE-2023-4911`).
        public var id: String
        /// The first day it no longer ignores; nil for never.
        public var expires: CalendarDay?
        public var reason: String?
        /// 1-based, to name in messages.
        public var line: Int

        public init(id: String, expires: CalendarDay? = nil, reason: String? = nil, line: Int) {
            self.id = id
            self.expires = expires
            self.reason = reason
            self.line = line
        }

        public func isActive(on today: CalendarDay) -> Bool { expires.map { today < $0 } ?? true }
    }

    public var path: String
    public var entries: [Entry]

    /// Ignore files are a few hundred lines; a megabyte is not one.
    public static let sizeLimit = 1 << 20

    public init(path: String, entries: [Entry]) {
        self.path = path
        self.entries = entries
    }

    /// Reads and parses the file at `path` (at most `sizeLimit` bytes).
    public static func load(path: String) throws(ScanError) -> IgnoreFile {
        try IgnoreFile(parsing: readBounded(path), path: path)
    }

    /// Parses `text`; `path` names the file in errors (`.trivyignore:3: …`).
    public init(parsing text: String, path: String) throws(ScanError) {
        self.path = path
        entries = []
        var comments: [String] = []
        var number = 0
        // By scalars, not characters: "\r\n" is one Character and would hide the line break.
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(raw)
            if number == 1, line.first == "\u{FEFF}" { line = line.dropFirst() }
            let trimmed = line.trimmingWhitespace
            if trimmed.isEmpty {
                comments = []
                continue
            }
            if trimmed.first == "#" {
                let comment = trimmed.dropFirst().trimmingWhitespace
                if !comment.isEmpty { comments.append(String(comment)) }
                continue
            }
            entries.append(try Self.entry(trimmed, line: number, path: path, comments: comments))
            comments = []
        }
    }

    /// `ID [exp:YYYY-MM-DD] [# reason]`.
    private static func entry(_ text: Substring, line: Int, path: String, comments: [String]) throws(ScanError) -> Entry {
        let form = "expected `ID [exp:YYYY-MM-DD] [# reason]`"
        var fields = text
        var reason: String?
        if let hash = text.firstIndex(of: "#") {
            fields = text[..<hash]
            let inline = text[text.index(after: hash)...].trimmingWhitespace
            reason = inline.isEmpty ? nil : String(inline)
        }
        let words = fields.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        guard let id = words.first else { throw .invalid("\(path):\(line): no advisory id before #: \(form)") }
        guard !id.hasPrefix("exp:"), id.allSatisfy(Self.isIDCharacter) else {
            throw .invalid("\(path):\(line): \"\(id)\" is not an advisory id (letters, digits, - _ . :): \(form)")
        }
        var expires: CalendarDay?
        for word in words.dropFirst() {
            guard word.hasPrefix("exp:") else {
                throw .invalid("\(path):\(line): unexpected \"\(word)\" after \(id): \(form) (a reason goes after #)")
            }
            guard expires == nil else { throw .invalid("\(path):\(line): a second \(word) for \(id): \(form)") }
            guard let day = CalendarDay(String(word.dropFirst(4))) else {
                throw .invalid("\(path):\(line): \(word): expected an expiry date exp:YYYY-MM-DD")
            }
            expires = day
        }
        return Entry(id: String(id), expires: expires, reason: reason ?? (comments.isEmpty ? nil : comments.joined(separator: " ")), line: line)
    }

    private static func isIDCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "-_.:".contains(character))
    }

    /// The entry that ignores `finding` today: the first in the file that names its
    /// advisory's id or an alias and has not expired.
    public func entry(for finding: Finding, today: CalendarDay) -> Entry? {
        entry(id: finding.advisory.id, aliases: finding.advisory.aliases, today: today)
    }

    /// The same by an advisory's id and aliases alone (a cached scan result keeps no more).
    public func entry(id: String, aliases: [String], today: CalendarDay) -> Entry? {
        entries.first { entry in
            entry.isActive(on: today) && (id.caseInsensitiveEquals(entry.id) || aliases.contains { $0.caseInsensitiveEquals(entry.id) })
        }
    }

    public func ignores(_ finding: Finding, today: CalendarDay) -> Bool { entry(for: finding, today: today) != nil }

    /// The entries whose expiry has come: what a scan should remind the user of.
    public func expired(today: CalendarDay) -> [Entry] { entries.filter { !$0.isActive(on: today) } }

    /// The file's text, refusing what is not a regular file (a FIFO would block) or is
    /// larger than `sizeLimit`.
    private static func readBounded(_ path: String) throws(ScanError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .storage("ignore file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .storage("ignore file \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .invalid("ignore file \(path): not a regular file") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .storage("ignore file \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= sizeLimit else {
                throw .invalid("ignore file \(path): larger than \(sizeLimit >> 20) MiB: expected a list of advisory ids")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

fileprivate extension StringProtocol {
    var trimmingWhitespace: SubSequence {
        var start = startIndex, end = endIndex
        while start < end, self[start].isWhitespace { start = index(after: start) }
        while end > start, self[index(before: end)].isWhitespace { end = index(before: end) }
        return self[start..<end]
    }

    func caseInsensitiveEquals<T: StringProtocol>(_ other: T) -> Bool {
        utf8.count == other.utf8.count && zip(utf8, other.utf8).allSatisfy { Self.lowered($0) == Self.lowered($1) }
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}
