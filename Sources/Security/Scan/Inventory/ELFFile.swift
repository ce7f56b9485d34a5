/// Just enough of ELF (the System V gABI) to find a section by name and map a virtual
/// address to file bytes: the header, the section headers and their name table, the
/// program headers. Every count and size is bounded before anything is read.
struct ELFFile<Source: ByteSource> {
    struct Section { var name: String; var address: UInt64; var offset: UInt64; var size: UInt64 }
    struct Segment { var type: UInt32; var flags: UInt32; var offset: UInt64; var address: UInt64; var fileSize: UInt64 }

    let source: Source
    let is64: Bool
    let bigEndian: Bool
    private(set) var sections: [Section] = []
    private(set) var segments: [Segment] = []

    static var maximumHeaders: Int { 4096 }

    /// nil when the data is not ELF (a script, a text file).
    init?(_ source: Source) {
        let header = source.bytes(at: 0, count: 64)
        guard header.count >= 52, header[0] == 0x7F, header[1] == UInt8(ascii: "E"), header[2] == UInt8(ascii: "L"), header[3] == UInt8(ascii: "F"),
              header[4] == 1 || header[4] == 2, header[5] == 1 || header[5] == 2 else { return nil }
        self.source = source
        is64 = header[4] == 2
        bigEndian = header[5] == 2
        guard !is64 || header.count >= 64 else { return nil }
        let word = is64 ? 8 : 4
        let phoff = read(header, is64 ? 0x20 : 0x1C, word), shoff = read(header, is64 ? 0x28 : 0x20, word)
        let phentsize = Int(read(header, is64 ? 0x36 : 0x2A, 2)), phnum = Int(read(header, is64 ? 0x38 : 0x2C, 2))
        let shentsize = Int(read(header, is64 ? 0x3A : 0x2E, 2)), shnum = Int(read(header, is64 ? 0x3C : 0x30, 2))
        let shstrndx = Int(read(header, is64 ? 0x3E : 0x32, 2))

        if phoff > 0, phnum > 0, phnum <= Self.maximumHeaders, phentsize >= (is64 ? 56 : 32), phentsize <= 256 {
            let table = source.bytes(at: phoff, count: phnum * phentsize)
            for index in 0..<(table.count / phentsize) {
                let at = index * phentsize
                if is64 {
                    segments.append(Segment(type: UInt32(read(table, at, 4)), flags: UInt32(read(table, at + 4, 4)), offset: read(table, at + 8, 8),
                                            address: read(table, at + 0x10, 8), fileSize: read(table, at + 0x20, 8)))
                } else {
                    segments.append(Segment(type: UInt32(read(table, at, 4)), flags: UInt32(read(table, at + 0x18, 4)), offset: read(table, at + 4, 4),
                                            address: read(table, at + 8, 4), fileSize: read(table, at + 0x10, 4)))
                }
            }
        }
        if shoff > 0, shnum > 0, shnum <= Self.maximumHeaders, shentsize >= (is64 ? 64 : 40), shentsize <= 256, shstrndx < shnum {
            let table = source.bytes(at: shoff, count: shnum * shentsize)
            var raw: [(name: Int, address: UInt64, offset: UInt64, size: UInt64)] = []
            for index in 0..<(table.count / shentsize) {
                let at = index * shentsize
                if is64 {
                    raw.append((Int(read(table, at, 4)), read(table, at + 0x10, 8), read(table, at + 0x18, 8), read(table, at + 0x20, 8)))
                } else {
                    raw.append((Int(read(table, at, 4)), read(table, at + 0xC, 4), read(table, at + 0x10, 4), read(table, at + 0x14, 4)))
                }
            }
            if shstrndx < raw.count {
                let names = source.bytes(at: raw[shstrndx].offset, count: Int(min(raw[shstrndx].size, 1 << 20)))
                for entry in raw {
                    guard entry.name < names.count else { continue }
                    let end = names[entry.name...].firstIndex(of: 0) ?? names.count
                    sections.append(Section(name: String(decoding: names[entry.name..<end], as: UTF8.self),
                                            address: entry.address, offset: entry.offset, size: entry.size))
                }
            }
        }
    }

    private func read(_ bytes: [UInt8], _ at: Int, _ size: Int) -> UInt64 {
        guard at + size <= bytes.count else { return 0 }
        return Self.integer(bytes, at, size: size, bigEndian: bigEndian)
    }

    static func integer(_ bytes: [UInt8], _ at: Int, size: Int, bigEndian: Bool) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<size {
            let byte = UInt64(bytes[at + (bigEndian ? index : size - 1 - index)])
            value = value << 8 | byte
        }
        return value
    }

    func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// The first loadable segment that is writable and not executable: where Go's linker
    /// puts the build information when there are no section headers to name it.
    func firstWritableSegment() -> Segment? {
        // PT_LOAD = 1; PF_X = 1, PF_W = 2.
        segments.first { $0.type == 1 && $0.flags & 3 == 2 }
    }

    /// `count` bytes at virtual address `address`, from the loadable segment holding them.
    func read(address: UInt64, count: Int) -> [UInt8]? {
        for segment in segments where segment.type == 1 {
            guard address >= segment.address, address - segment.address < segment.fileSize else { continue }
            let within = address - segment.address
            guard UInt64(count) <= segment.fileSize - within else { return nil }
            let (offset, overflow) = segment.offset.addingReportingOverflow(within)
            guard !overflow else { return nil }
            return source.bytes(at: offset, count: count)
        }
        return nil
    }
}
