import Foundation
import Testing
import TestSupport
@testable import Runtime

/// A layer archive is read up to a bound on its compressed and uncompressed bytes and on its
/// entries (64 GiB, 64 GiB, a million by default; small ones here), with a one-line error
/// past it.
@Suite struct LayerLimitsTests {
    /// A gzip tar of `files` files of `size` random bytes each, and a directory to unpack it in.
    private func layer(files: Int, size: Int) throws -> (blob: String, directory: String) {
        let base = NSTemporaryDirectory() + uniqueName("nctlimits")
        try FileManager.default.createDirectory(atPath: base + "/out", withIntermediateDirectories: true)
        let script = """
            import io, os, sys, tarfile
            with tarfile.open(sys.argv[1], "w:gz") as tar:
                for i in range(int(sys.argv[2])):
                    data = os.urandom(int(sys.argv[3]))
                    info = tarfile.TarInfo("f%d" % i); info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            """
        let result = try runCommand(["python3", "-c", script, base + "/layer.tar.gz", String(files), String(size)])
        try #require(result.status == 0, "\(result.stderr)")
        return (base + "/layer.tar.gz", base + "/out")
    }

    private func extract(_ layer: (blob: String, directory: String), _ limits: LayerLimits) -> String? {
        defer { try? FileManager.default.removeItem(atPath: (layer.blob as NSString).deletingLastPathComponent) }
        do {
            _ = try LayerExtractor.extract(blob: layer.blob, into: layer.directory, policy: .init(), limits: limits)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func withinTheLimitsItUnpacks() throws {
        #expect(extract(try layer(files: 3, size: 1000), LayerLimits(compressedBytes: 1 << 20, uncompressedBytes: 1 << 20, entries: 3)) == nil)
    }

    @Test func tooManyEntries() throws {
        let error = extract(try layer(files: 4, size: 10), LayerLimits(entries: 3))
        #expect(error?.contains("more than 3 entries, the most netctl unpacks of a layer") == true, "\(error ?? "no error")")
    }

    @Test func tooManyUncompressedBytes() throws {
        let error = extract(try layer(files: 1, size: 200_000), LayerLimits(uncompressedBytes: 100_000))
        #expect(error?.contains("more than 100000 bytes uncompressed") == true, "\(error ?? "no error")")
    }

    @Test func tooManyCompressedBytes() throws {
        // Random bytes do not compress: the blob is about as large as its content.
        let error = extract(try layer(files: 1, size: 600_000), LayerLimits(compressedBytes: 300_000))
        #expect(error?.contains("more than 300000 bytes compressed") == true, "\(error ?? "no error")")
    }

    @Test func chainIDsAreOCIs() throws {
        let diffIDs = [Digest(hex: String(repeating: "a", count: 64)), Digest(hex: String(repeating: "b", count: 64)), Digest(hex: String(repeating: "c", count: 64))]
        // ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)), by Python.
        let script = """
            import hashlib, sys
            chain = sys.argv[1]
            print(chain)
            for diff in sys.argv[2:]:
                chain = "sha256:" + hashlib.sha256((chain + " " + diff).encode()).hexdigest()
                print(chain)
            """
        let expected = try runCommand(["python3", "-c", script] + diffIDs.map(\.description)).stdout
        #expect(try ImageStore.chainIDs(of: diffIDs).map { "\($0)\n" }.joined() == expected)
    }
}
