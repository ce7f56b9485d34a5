import Foundation
import Testing
import TestSupport

/// Importing images: hostile layers stay inside their layer, malformed images are refused
/// and leave the store as it was.
@Suite struct ImageTests {
    /// A host folder the attacks aim at, with a file in it whose bytes, inode and link count
    /// must not change.
    private struct Target {
        let path = NSTemporaryDirectory() + uniqueName("ncttarget")
        var victim: String { path + "/victim" }

        init() throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try "original\n".write(toFile: victim, atomically: false, encoding: .utf8)
        }

        func snapshot() throws -> [String] {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            var info = stat()
            lstat(victim, &info)
            return names + [try String(contentsOfFile: victim, encoding: .utf8), "ino=\(info.st_ino) nlink=\(info.st_nlink) mode=\(info.st_mode)"]
        }

        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test(arguments: [
        "dot-dot", "absolute", "symlink-to-root", "symlink-chain", "hardlink-to-host", "whiteout-outside", "device-node", "symlink-from-earlier-layer",
    ])
    func hostileLayerStaysInsideItsRoot(attack: String) throws {
        try withNetctl { netctl in
            let target = try Target()
            defer { target.remove() }
            let before = try target.snapshot()
            let relative = String(target.path.dropFirst())  // the target's path without its leading "/"
            let depth = String(repeating: "../", count: 12)
            let layers: [[CraftedImages.Entry]] = switch attack {
            case "dot-dot": [[.file(depth + relative + "/victim", "pwned\n"), .file(depth + relative + "/new", "x")]]
            case "absolute": [[.file(target.victim, "pwned\n"), .file(target.path + "/new", "x")]]
            case "symlink-to-root": [[.symlink("root", to: "/"), .file("root/" + relative + "/victim", "pwned\n")]]
            case "symlink-chain": [[.symlink("a", to: "b"), .symlink("b", to: "../../" + relative), .file("a/victim", "pwned\n"), .file("a/new", "x")]]
            case "hardlink-to-host": [[.hardlink("link", to: target.victim), .file("link", "pwned\n")]]
            case "whiteout-outside": [[.file(depth + relative + "/.wh.victim", ""), .file(target.path + "/.wh..wh..opq", "")]]
            case "device-node": [[.characterDevice("dev/mem", major: 1, minor: 1), .characterDevice(target.path + "/new", major: 1, minor: 3)]]
            default: [[.symlink("etc", to: target.path)], [.file("etc/victim", "pwned\n"), .file("etc/new", "x")]]
            }
            let layout = netctl.root + "-hostile"
            try CraftedImages.layout(at: layout, layers: layers)
            defer { try? FileManager.default.removeItem(atPath: layout) }
            // Whether the import succeeds (the entry lands inside the layer) or is refused
            // (a link to something the layer does not have), nothing outside changes.
            _ = try netctl.netctl("image", "import", "--name", "hostile", layout)
            #expect(try target.snapshot() == before)
            if attack == "device-node" {
                let layers = netctl.root + "/storage/layers"
                let found = try runCommand(["find", layers, "-type", "c"]).stdout
                #expect(found.isEmpty, "device nodes were created: \(found)")
            }
        }
    }

    @Test func hostileEntriesLandInsideTheLayer() throws {
        try withNetctl { netctl in
            let layout = netctl.root + "-inside"
            try CraftedImages.layout(at: layout, layers: [[
                .file("../../escape", "a"), .symlink("up", to: "/"), .file("up/through-link", "b"), .file("/absolute", "c"),
            ]])
            defer { try? FileManager.default.removeItem(atPath: layout) }
            try netctl.ok("image", "import", "--name", "inside", layout)
            let layers = try FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/layers")
            let layer = netctl.root + "/storage/layers/" + (try #require(layers.first))
            for (name, data) in [("escape", "a"), ("through-link", "b"), ("absolute", "c")] {
                #expect(try String(contentsOfFile: layer + "/" + name, encoding: .utf8) == data)
            }
        }
    }

    /// A `/` followed by a combining mark is one Swift Character that is not `/`: split by
    /// Characters, `../\u{35E}escaped` stayed one component, and the file was made one
    /// level above the layer's root, in the import's staging directory (found by
    /// Fuzz/Sources/FuzzTarNames).
    @Test func combiningMarkAfterASlashStaysInsideTheLayer() throws {
        try withNetctl { netctl in
            let layout = netctl.root + "-combining"
            try CraftedImages.layout(at: layout, layers: [[
                .file("../\u{35E}escaped", "a"), .directory("d"), .file("d/../../\u{35E}deeper", "b"),
            ]])
            defer { try? FileManager.default.removeItem(atPath: layout) }
            try netctl.ok("image", "import", "--name", "combining", layout)
            let layers = try FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/layers")
            let layer = netctl.root + "/storage/layers/" + (try #require(layers.first))
            #expect(try String(contentsOfFile: layer + "/\u{35E}escaped", encoding: .utf8) == "a")
            #expect(try String(contentsOfFile: layer + "/\u{35E}deeper", encoding: .utf8) == "b")
        }
    }

    /// The busybox image's layer blob, to build images on.
    private func busyboxLayer() throws -> String {
        let layout = try TestImages.busybox().layout
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json"))) as! [String: Any]
        let manifestDigest = ((index["manifests"] as! [[String: Any]])[0]["digest"] as! String).dropFirst(7)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(manifestDigest)"))) as! [String: Any]
        let layer = ((manifest["layers"] as! [[String: Any]])[0]["digest"] as! String).dropFirst(7)
        return "\(layout)/blobs/sha256/\(layer)"
    }

    @Test(arguments: ["gzip", "zstd", "none"])
    func whiteoutsHideTheLowerLayers(compression: String) throws {
        try withNetctl { netctl in
            let layout = netctl.root + "-whiteouts"
            defer { try? FileManager.default.removeItem(atPath: layout) }
            try CraftedImages.layout(at: layout, base: [try busyboxLayer()], layers: [
                [.directory("a"), .file("a/gone", "1"), .file("a/kept", "2"), .directory("b"), .file("b/old", "3"), .file("c", "4")],
                [.file("a/.wh.gone", ""), .directory("b"), .file("b/.wh..wh..opq", ""), .file("b/new", "5"), .file(".wh.c", "")],
            ], compression: compression)
            try netctl.ok("image", "import", "--name", "layered", layout)
            let listing = try netctl.ok("run", "--rm", "layered", "sh", "-c", "ls /a; ls /b; ls /c 2>&1 || true")
            #expect(listing == "kept\nnew\nls: /c: No such file or directory\n")
        }
    }

    @Test func tagsAndRemoval() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("image", "tag", image, "second:v1")
            #expect(try netctl.ok("image", "ls").contains("second"))
            // Removing one of two names only untags.
            #expect(try netctl.ok("image", "rm", "second:v1") == "Untagged: second:v1\n")
            try netctl.ok("run", "-d", "--name", "user", image, "sleep", "30")
            let refused = try netctl.netctl("image", "rm", image)
            #expect(refused.status != 0 && refused.stderr.contains("used by container user"))
            try netctl.ok("rm", "-f", "user")
            #expect(try netctl.ok("image", "rm", image).contains("Deleted: sha256:"))
            #expect(try netctl.ok("image", "ls", "-q").isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/layers")) ?? []).isEmpty)
            #expect(try netctl.netctl("image", "tag", "nope", "x").stderr.contains("image \"nope\" not found"))
            #expect(try netctl.netctl("image", "import", "--name", "Bad Name", "/nonexistent").status != 0)
        }
    }

    @Test func malformedImagesAreRefusedAndChangeNothing() throws {
        try withNetctl { netctl in
            let images = try TestImages.busybox()
            let scratch = netctl.root + "-malformed"
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            func copyOfLayout(_ name: String) throws -> String {
                let path = scratch + "/" + name
                try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: images.layout, toPath: path)
                return path
            }
            func blobs(of layout: String) throws -> [(path: String, size: Int)] {
                let directory = layout + "/blobs/sha256"
                return try FileManager.default.contentsOfDirectory(atPath: directory).map { name in
                    let path = directory + "/" + name
                    return (path, (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
                }.sorted { $0.size > $1.size }
            }

            var cases: [(String, String)] = []
            // A blob whose bytes do not match its digest (same size: only the digest can tell).
            let badDigest = try copyOfLayout("bad-digest")
            let config = try blobs(of: badDigest).first { (try? String(contentsOfFile: $0.path, encoding: .utf8))?.contains("diff_ids") == true }!
            let text = try String(contentsOfFile: config.path, encoding: .utf8)
            try text.replacingOccurrences(of: "amd64", with: "amd65").write(toFile: config.path, atomically: false, encoding: .utf8)
            cases.append((badDigest, "does not match its digest"))
            // A layer blob that is not there.
            let missing = try copyOfLayout("missing")
            try FileManager.default.removeItem(atPath: try blobs(of: missing)[0].path)
            cases.append((missing, "is missing"))
            // index.json that is not JSON.
            let badJSON = try copyOfLayout("bad-json")
            try "{\"schemaVersion\": 2, \"manifests\": [".write(toFile: badJSON + "/index.json", atomically: false, encoding: .utf8)
            cases.append((badJSON, "index.json: not valid JSON"))
            // A docker-save archive cut short.
            let truncated = scratch + "/truncated.tar"
            let archive = try Data(contentsOf: URL(fileURLWithPath: images.archive))
            try archive.prefix(archive.count / 2).write(to: URL(fileURLWithPath: truncated))
            cases.append((truncated, "runcated"))
            // Not an image at all.
            cases.append((scratch, "neither oci-layout nor manifest.json"))

            for (path, message) in cases {
                let result = try netctl.netctl("image", "import", path)
                #expect(result.status != 0)
                #expect(result.stderr.contains(message), "\(path): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
                #expect(try netctl.ok("image", "ls", "-q").isEmpty)
                let layers = (try? FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/layers")) ?? []
                #expect(layers.isEmpty, "\(path) left layers: \(layers)")
                let staging = (try? FileManager.default.contentsOfDirectory(atPath: netctl.root + "/storage/tmp")) ?? []
                #expect(staging.isEmpty)
            }
        }
    }
}
