/// An RPM header as rpmdb.sqlite's `Packages.blob` holds it: rpm's header blob without the
/// 8-byte magic preamble of package files (lib/header.c, hdrblobInit). Big-endian:
///
///     int32 il, int32 dl                      index entries, data bytes
///     il × {int32 tag, uint32 type, int32 offset, uint32 count}
///     dl bytes of data                        strings NUL-terminated, integers aligned
///
/// Only the tags the inventory needs are read; each is checked to lie inside the data.
public struct RPMHeader: Sendable {
    struct Entry {
        var type: UInt32
        var offset: Int
        var count: Int
    }

    private let data: [UInt8]
    private let entries: [Int32: Entry]

    // rpm's tag numbers (include/rpm/rpmtag.h) and types (RPM_*_TYPE).
    static let name: Int32 = 1000, version: Int32 = 1001, release: Int32 = 1002, epoch: Int32 = 1003
    static let arch: Int32 = 1022, sourceRPM: Int32 = 1044
    static let int32Type: UInt32 = 4, stringType: UInt32 = 6, stringArrayType: UInt32 = 8, i18nStringType: UInt32 = 9

    /// rpm's own bounds (HEADER_TAGS_MAX, HEADER_DATA_MAX).
    static let maximumEntries = 0xFFFF
    static let maximumData = 256 << 20

    public static func parse(_ blob: some Collection<UInt8>) throws(ScanError) -> RPMHeader {
        let bytes = Array(blob)
        guard bytes.count >= 8 else { throw .invalid("RPM header of \(bytes.count) bytes: expected at least 8") }
        let il = Int(Self.int32(bytes, 0)), dl = Int(Self.int32(bytes, 4))
        guard il >= 1, il <= maximumEntries else { throw .invalid("RPM header with \(il) index entries: expected 1 to \(maximumEntries)") }
        guard dl >= 0, dl <= maximumData else { throw .invalid("RPM header with \(dl) bytes of data: expected at most \(maximumData)") }
        let dataStart = 8 + il * 16
        guard bytes.count >= dataStart + dl else {
            throw .invalid("RPM header of \(bytes.count) bytes: its \(il) entries and \(dl) bytes of data need \(dataStart + dl)")
        }
        var entries: [Int32: Entry] = [:]
        for index in 0..<il {
            let at = 8 + index * 16
            let tag = Int32(bitPattern: Self.int32(bytes, at))
            let type = Self.int32(bytes, at + 4), offset = Int(Int32(bitPattern: Self.int32(bytes, at + 8))), count = Int(Self.int32(bytes, at + 12))
            guard tag == name || tag == version || tag == release || tag == epoch || tag == arch || tag == sourceRPM else { continue }
            guard offset >= 0, offset < dl, count >= 1 else {
                throw .invalid("RPM header tag \(tag): offset \(offset) count \(count) outside its \(dl) bytes of data")
            }
            entries[tag] = Entry(type: type, offset: offset, count: count)
        }
        return RPMHeader(data: Array(bytes[dataStart..<(dataStart + dl)]), entries: entries)
    }

    private init(data: [UInt8], entries: [Int32: Entry]) {
        self.data = data
        self.entries = entries
    }

    private static func int32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// A STRING tag's value (the first of an I18NSTRING or STRING_ARRAY), nil when absent.
    func string(_ tag: Int32) throws(ScanError) -> String? {
        guard let entry = entries[tag] else { return nil }
        guard entry.type == Self.stringType || entry.type == Self.i18nStringType || entry.type == Self.stringArrayType else {
            throw .invalid("RPM header tag \(tag): type \(entry.type), expected a string")
        }
        guard let end = data[entry.offset...].firstIndex(of: 0) else {
            throw .invalid("RPM header tag \(tag): string at \(entry.offset) not terminated inside the data")
        }
        return String(decoding: data[entry.offset..<end], as: UTF8.self)
    }

    func int32(_ tag: Int32) throws(ScanError) -> UInt32? {
        guard let entry = entries[tag] else { return nil }
        guard entry.type == Self.int32Type, entry.offset + 4 <= data.count else {
            throw .invalid("RPM header tag \(tag): type \(entry.type) at \(entry.offset), expected a 32-bit integer inside the data")
        }
        return Self.int32(data, entry.offset)
    }

    /// The package this header describes; nil for rpm's `gpg-pubkey` pseudo-packages (keys
    /// imported into the database, not software).
    public func package(location: String) throws(ScanError) -> InstalledPackage? {
        guard let name = try string(Self.name), !name.isEmpty else { throw .invalid("RPM header without a NAME") }
        guard let version = try string(Self.version), !version.isEmpty else { throw .invalid("RPM header of \(name) without a VERSION") }
        guard let release = try string(Self.release) else { throw .invalid("RPM header of \(name) without a RELEASE") }
        if name == "gpg-pubkey" { return nil }
        let epoch = try int32(Self.epoch)
        var full = "\(version)-\(release)"
        if let epoch { full = "\(epoch):" + full }
        let sourceRPM = try string(Self.sourceRPM)
        return InstalledPackage(kind: .rpm, name: name, version: full, sourceName: sourceRPM.flatMap(Self.sourceName(ofFile:)),
                                architecture: try string(Self.arch), location: location)
    }

    /// `bash-5.1.8-6.el9.src.rpm` → `bash`: the file name without `.src.rpm`, then without
    /// its last two `-` fields (version, release), which never contain a `-`.
    static func sourceName(ofFile file: String) -> String? {
        var stem = Substring(file)
        for suffix in [".src.rpm", ".nosrc.rpm"] where stem.hasSuffix(suffix) {
            stem = stem.dropLast(suffix.count)
            break
        }
        guard let releaseDash = stem.lastIndex(of: "-") else { return nil }
        let rest = stem[..<releaseDash]
        guard let versionDash = rest.lastIndex(of: "-") else { return nil }
        let name = rest[..<versionDash]
        return name.isEmpty ? nil : String(name)
    }
}
