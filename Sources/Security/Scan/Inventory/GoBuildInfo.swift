/// The build information Go links into every binary (what `go version -m` prints), read as
/// Go's debug/buildinfo does: find the ELF section `.go.buildinfo` (or, without section
/// headers, the first writable segment) and in it the 16-byte aligned header
///
///     "\xff Go buildinf:"  ptrSize  flags   (14 + 1 + 1 bytes, then 16 more)
///
/// Go 1.18+ (flags bit 1): the version and the module list follow the 32-byte header as
/// strings, each a uvarint length then the bytes. Earlier: two pointers at 16 to Go string
/// headers {data pointer, length} elsewhere in the binary, in its byte order (flags bit 0
/// big-endian). The module list is tab-separated lines (`path`, `mod`, `dep`, `=>`,
/// `build`), wrapped in 16-byte sentinels.
public struct GoBuildInfo: Hashable, Sendable {
    public struct Module: Hashable, Sendable {
        public var path: String
        public var version: String
    }

    /// `go1.21.4`, as the binary says it.
    public var goVersion: String
    /// The main package's import path (`path` line).
    public var path: String?
    /// The main module (`mod` line).
    public var main: Module?
    /// Dependencies as built: a `=>` replacement stands in for the module it replaces.
    public var dependencies: [Module]

    static let magic: [UInt8] = [0xFF] + Array(" Go buildinf:".utf8)
    static let searchSize = 64 << 10
    static let maximumString = 1 << 20

    /// From a whole file in memory (fuzzing, tests); nil when it is not a Go binary.
    public static func parse(_ bytes: [UInt8]) throws(ScanError) -> GoBuildInfo? {
        try parse(MemoryByteSource(data: bytes))
    }

    static func parse(_ source: some ByteSource) throws(ScanError) -> GoBuildInfo? {
        guard let elf = ELFFile(source) else { return nil }
        let start: (address: UInt64, offset: UInt64, size: UInt64)
        if let section = elf.section(named: ".go.buildinfo") {
            start = (section.address, section.offset, section.size)
        } else if let segment = elf.firstWritableSegment() {
            start = (segment.address, segment.offset, segment.fileSize)
        } else {
            return nil
        }
        let window = source.bytes(at: start.offset, count: Int(min(start.size, UInt64(searchSize))))
        var at = 0
        var found: Int?
        while at + 32 <= window.count {
            if window[at..<(at + magic.count)].elementsEqual(magic) { found = at; break }
            at += 16
        }
        guard let header = found else { return nil }
        let pointerSize = Int(window[header + 14]), flags = window[header + 15]
        var version: [UInt8], modules: [UInt8]
        if flags & 2 != 0 {
            var offset = start.offset &+ UInt64(header + 32)
            version = try inlineString(source, at: &offset)
            modules = try inlineString(source, at: &offset)
        } else {
            guard pointerSize == 4 || pointerSize == 8 else { throw .invalid("Go build info: pointer size \(pointerSize), expected 4 or 8") }
            let bigEndian = flags & 1 != 0
            let pointers = Array(window[(header + 16)...])
            guard pointers.count >= 2 * pointerSize else { throw .invalid("Go build info: header cut short") }
            let versionAddress = ELFFile<MemoryByteSource>.integer(pointers, 0, size: pointerSize, bigEndian: bigEndian)
            let modulesAddress = ELFFile<MemoryByteSource>.integer(pointers, pointerSize, size: pointerSize, bigEndian: bigEndian)
            version = try pointedString(elf, at: versionAddress, pointerSize: pointerSize, bigEndian: bigEndian)
            modules = try pointedString(elf, at: modulesAddress, pointerSize: pointerSize, bigEndian: bigEndian)
        }
        // The module list sits between two 16-byte sentinels (cmd/go's modinfo markers).
        if modules.count >= 33 && modules[modules.count - 17] == 0x0A {
            modules = Array(modules[16..<(modules.count - 16)])
        }
        guard !version.isEmpty else { return nil }
        return parseModules(goVersion: String(decoding: version, as: UTF8.self), String(decoding: modules, as: UTF8.self))
    }

    private static func inlineString(_ source: some ByteSource, at offset: inout UInt64) throws(ScanError) -> [UInt8] {
        let prefix = source.bytes(at: offset, count: 10)
        var length: UInt64 = 0, shift: UInt64 = 0, used = 0
        while true {
            guard used < prefix.count, shift < 64 else { throw .invalid("Go build info: a string length cut short") }
            let byte = prefix[used]
            used += 1
            length |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        guard length <= UInt64(maximumString) else { throw .invalid("Go build info: a string of \(length) bytes, expected at most \(maximumString)") }
        let bytes = source.bytes(at: offset &+ UInt64(used), count: Int(length))
        guard bytes.count == Int(length) else { throw .invalid("Go build info: a string of \(length) bytes cut short at \(bytes.count)") }
        offset = offset &+ UInt64(used) &+ length
        return bytes
    }

    /// Before Go 1.18: a Go string header {data, len} at `address`, then its data.
    private static func pointedString(_ elf: ELFFile<some ByteSource>, at address: UInt64, pointerSize: Int, bigEndian: Bool) throws(ScanError) -> [UInt8] {
        guard let header = elf.read(address: address, count: 2 * pointerSize), header.count == 2 * pointerSize else {
            throw .invalid("Go build info: string header at 0x\(String(address, radix: 16)) outside the file")
        }
        let data = ELFFile<MemoryByteSource>.integer(header, 0, size: pointerSize, bigEndian: bigEndian)
        let length = ELFFile<MemoryByteSource>.integer(header, pointerSize, size: pointerSize, bigEndian: bigEndian)
        guard length <= UInt64(maximumString) else { throw .invalid("Go build info: a string of \(length) bytes, expected at most \(maximumString)") }
        if length == 0 { return [] }
        guard let bytes = elf.read(address: data, count: Int(length)), bytes.count == Int(length) else {
            throw .invalid("Go build info: string at 0x\(String(data, radix: 16)) outside the file")
        }
        return bytes
    }

    /// `go version -m`'s lines: `path P`, `mod P V [sum]`, `dep P V [sum]`, `=> P V [sum]`.
    static func parseModules(goVersion: String, _ text: String) -> GoBuildInfo {
        var info = GoBuildInfo(goVersion: goVersion, path: nil, main: nil, dependencies: [])
        var lastWasMain = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2 else { continue }
            let module = Module(path: fields[1], version: fields.count >= 3 ? fields[2] : "")
            switch fields[0] {
            case "path": info.path = fields[1]
            case "mod":
                info.main = module
                lastWasMain = true
            case "dep":
                info.dependencies.append(module)
                lastWasMain = false
            case "=>":
                if lastWasMain { info.main = module } else if !info.dependencies.isEmpty { info.dependencies[info.dependencies.count - 1] = module }
            default: break
            }
        }
        return info
    }

    /// The packages it stands for: Go's standard library (`stdlib`, the version without
    /// `go`, as OSV's Go ecosystem names it), the main module and every dependency. A
    /// module replaced by a local directory has no version: `(devel)`, as Go says.
    public func packages(location: String) -> [InstalledPackage] {
        var out: [InstalledPackage] = []
        var release = Substring(goVersion)
        if let space = release.firstIndex(of: " ") { release = release[..<space] }
        if release.hasPrefix("go1") {
            out.append(InstalledPackage(kind: .go, name: "stdlib", version: String(release.dropFirst(2)), location: location))
        }
        for module in (main.map { [$0] } ?? []) + dependencies where !module.path.isEmpty {
            out.append(InstalledPackage(kind: .go, name: module.path, version: module.version.isEmpty ? "(devel)" : module.version, location: location))
        }
        return out
    }
}
