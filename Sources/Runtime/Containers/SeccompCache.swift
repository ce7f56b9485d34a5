import Glibc
import Security

/// Compiled seccomp filters kept in the state root (`storage/seccomp`), keyed by the
/// profile's exact bytes (or, for one in memory, its fingerprint) and the capability set
/// it was compiled for. libseccomp needs
/// ~18 ms for Docker's profile across x86_64, x86 and x32; reading the cached program
/// takes microseconds. The file holds the key itself, compared in full on every read, so
/// a lookup can never return another profile's filter.
struct SeccompCache {
    let directory: String

    /// The BPF for the profile at `path` and `capabilities`: cached, or compiled and cached.
    func filter(profilePath path: String, capabilities: UInt64) throws -> [UInt8] {
        let source = try readFile(path, name: "seccomp profile \(path)")
        return try cached(source, capabilities: capabilities) {
            try decodeJSON(SeccompProfile.self, source, what: "seccomp profile \(path)")
        }
    }

    /// The same for a profile in memory (the built-in one, a bundle's linux.seccomp),
    /// keyed by its fingerprint. A compile error is prefixed with `context`.
    func filter(_ profile: SeccompProfile, capabilities: UInt64, context: String = "") throws -> [UInt8] {
        try cached(Array(("in memory\n" + profile.fingerprint).utf8), capabilities: capabilities, context: context) { profile }
    }

    private func cached(_ source: [UInt8], capabilities: UInt64, context: String = "", profile: () throws -> SeccompProfile) throws -> [UInt8] {
        var key = Array("netctl-seccomp-2 \(capabilities) ".utf8)
        key += source
        let file = "\(directory)/\(Self.fnv1a(key)).bpf"
        if let cached = try? readFile(file, name: file, limit: ReadLimit(bytes: 2 << 20, kind: "a cached seccomp filter")), cached.count > key.count + 8 {
            let length = cached.prefix(8).reduce(0) { $0 << 8 | Int($1) }
            if length == key.count, cached[8..<(8 + length)].elementsEqual(key) {
                return Array(cached[(8 + length)...])
            }
        }
        let bpf: [UInt8]
        do {
            bpf = try SeccompCompiler.compile(try profile(), capabilities: capabilities)
        } catch let error as SeccompError {
            throw RuntimeError(context + error.description)
        }
        // Best effort: a cache that cannot be written only costs the next run the compile.
        var entry = (0..<8).reversed().map { UInt8(truncatingIfNeeded: key.count >> ($0 * 8)) }
        entry += key
        entry += bpf
        try? write(entry, to: file)
        return bpf
    }

    private func write(_ bytes: [UInt8], to file: String) throws {
        try makeDirectory(directory)
        let temporary = "\(file).\(getpid())"
        do {
            try writeFile(bytes, to: temporary)
            guard rename(temporary, file) == 0 else { throw RuntimeError.system("rename \(temporary)") }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    static func fnv1a(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
