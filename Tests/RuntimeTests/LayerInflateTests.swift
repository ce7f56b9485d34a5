import Foundation
import Testing
import TestSupport
@testable import Runtime

/// The inflating side of a layer's unpacking (its own thread, igzip for gzip when libisal
/// loads, libarchive's filters otherwise): layers larger than its ring of buffers, gzip
/// made of several members, zstd, and broken streams, each checked against what Python's
/// own gzip and hashlib say.
@Suite struct LayerInflateTests {
    /// A tar of `files` files of `size` bytes (half random, half repeated: compressible
    /// and not), written as `form`: "gzip", "members" (gzip of the tar in three members and
    /// nothing after), "zstd" or "tar". Returns the blob, a directory to unpack it in and
    /// the tar's SHA-256.
    private func layer(_ form: String, files: Int = 12, size: Int = 600_000) throws -> (blob: String, directory: String, diffID: String) {
        let base = NSTemporaryDirectory() + uniqueName("nctinflate")
        try FileManager.default.createDirectory(atPath: base + "/out", withIntermediateDirectories: true)
        let script = """
            import gzip, hashlib, io, os, subprocess, sys, tarfile
            path, form, files, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for i in range(files):
                    data = os.urandom(size // 2) + bytes([i]) * (size - size // 2)
                    info = tarfile.TarInfo("dir%d/f%d" % (i % 3, i)); info.size = len(data); info.mode = 0o644
                    tar.addfile(info, io.BytesIO(data))
            raw = buffer.getvalue()
            if form == "gzip":
                blob = gzip.compress(raw)
            elif form == "members":
                third = len(raw) // 3
                blob = gzip.compress(raw[:third]) + gzip.compress(raw[third:2 * third]) + gzip.compress(raw[2 * third:])
            elif form == "zstd":
                blob = subprocess.run(["zstd", "-q", "-c"], input=raw, stdout=subprocess.PIPE, check=True).stdout
            else:
                blob = raw
            open(path, "wb").write(blob)
            print(hashlib.sha256(raw).hexdigest())
            """
        let result = try runCommand(["python3", "-c", script, base + "/layer", form, String(files), String(size)])
        try #require(result.status == 0, "\(result.stderr)")
        return (base + "/layer", base + "/out", result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private func remove(_ layer: (blob: String, directory: String, diffID: String)) {
        try? FileManager.default.removeItem(atPath: (layer.blob as NSString).deletingLastPathComponent)
    }

    @Test(arguments: ["gzip", "members", "zstd", "tar"])
    func unpacksWithTheTarsDigest(form: String) throws {
        let layer = try layer(form)
        defer { remove(layer) }
        let result = try LayerExtractor.extract(blob: layer.blob, into: layer.directory, policy: .init())
        #expect(result.diffID.hex == layer.diffID)
        #expect(result.entries == 12)
        let blob = try Data(contentsOf: URL(fileURLWithPath: layer.blob))
        #expect(result.digest == (try Digest.of(blob)))
        #expect(result.size == Int64(blob.count))
        let file = try Data(contentsOf: URL(fileURLWithPath: layer.directory + "/dir2/f11"))
        #expect(file.count == 600_000 && file.suffix(300_000).allSatisfy { $0 == 11 })
    }

    /// libisal2 can be loaded: igzip inflates gzip layers.
    static let hasIgzip: Bool = {
        guard let handle = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL) else { return false }
        dlclose(handle)
        return true
    }()

    /// A flipped byte in the last member's CRC-32: one line, naming what is wrong, as Go's
    /// gzip reader (Docker's, containerd's) refuses it. libarchive's gzip filter, the
    /// fallback without libisal2, does not check the trailer (its diff ID still catches
    /// damaged data).
    @Test(.enabled(if: hasIgzip, "libisal2 is not installed"))
    func aBadChecksumIsAnError() throws {
        let layer = try layer("members", files: 2, size: 10_000)
        defer { remove(layer) }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: layer.blob))
        bytes[bytes.count - 8] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: layer.blob))
        #expect {
            try LayerExtractor.extract(blob: layer.blob, into: layer.directory, policy: .init())
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("layer \(layer.blob): ") && !text.contains("\n")
                && (text.contains("CRC") || text.lowercased().contains("crc"))
        }
    }

    /// Cut short inside the deflate data: an error, not a short layer.
    @Test func aTruncatedStreamIsAnError() throws {
        let layer = try layer("gzip", files: 8)
        defer { remove(layer) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: layer.blob))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: layer.blob))
        #expect(throws: RuntimeError.self) {
            try LayerExtractor.extract(blob: layer.blob, into: layer.directory, policy: .init())
        }
    }
}
