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
        "relative-symlink-from-earlier-layer", "whiteout-through-earlier-layer", "hardlink-through-earlier-layer", "dot-dot-through-earlier-layer",
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
            case "relative-symlink-from-earlier-layer": [[.directory("a"), .symlink("a/up", to: "../" + depth + relative)], [.file("a/up/victim", "pwned\n"), .file("a/up/new", "x")]]
            case "whiteout-through-earlier-layer": [[.symlink("w", to: target.path)], [.file("w/.wh.victim", ""), .file("w/.wh..wh..opq", "")]]
            case "hardlink-through-earlier-layer": [[.symlink("h", to: target.path)], [.hardlink("link", to: "h/victim"), .file("link", "pwned\n")]]
            case "dot-dot-through-earlier-layer": [[.directory("d"), .symlink("d/self", to: ".")], [.file("d/self/../../" + depth + relative + "/victim", "pwned\n"), .file("d/self/" + depth + relative + "/new", "x")]]
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

    @Test(arguments: ["gzip", "zstd", "none"])
    func whiteoutsHideTheLowerLayers(compression: String) throws {
        try withNetctl { netctl in
            let layout = netctl.root + "-whiteouts"
            defer { try? FileManager.default.removeItem(atPath: layout) }
            try CraftedImages.layout(at: layout, base: [try TestImages.busyboxLayer()], layers: [
                [.directory("a"), .file("a/gone", "1"), .file("a/kept", "2"), .directory("b"), .file("b/old", "3"), .file("c", "4")],
                [.file("a/.wh.gone", ""), .directory("b"), .file("b/.wh..wh..opq", ""), .file("b/new", "5"), .file(".wh.c", "")],
            ], compression: compression)
            try netctl.ok("image", "import", "--name", "layered", layout)
            let listing = try netctl.ok("run", "--rm", "layered", "sh", "-c", "ls /a; ls /b; ls /c 2>&1 || true")
            #expect(listing == "kept\nnew\nls: /c: No such file or directory\n")
        }
    }

    /// Each layer is applied onto its parents' view (issue #11), checked in a container of
    /// busybox with a crafted layer (or two) on top.
    @Test(arguments: ["implicit-parent", "whiteout-in-new-directory", "symlink-to-lower-directory", "symlink-replaced-while-written-through"])
    func layersApplyOntoTheirParentsView(_ change: String) throws {
        try withNetctl { netctl in
            let layout = netctl.root + "-applied"
            defer { try? FileManager.default.removeItem(atPath: layout) }
            let layers: [[CraftedImages.Entry]] = switch change {
            // No tmp/ entry: /tmp keeps busybox's 1777, so anyone can still write there.
            case "implicit-parent": [[.file("tmp/note", "n")]]
            // newdir is in no lower layer: a whiteout there would be listed as an entry.
            case "whiteout-in-new-directory": [[.directory("newdir"), .file("newdir/.wh.ghost", ""), .file("newdir/kept", "k")]]
            // A lower layer's d/self -> . written through, then replaced (through itself) by a
            // directory: the next entry of the same path resolves anew, into that directory.
            case "symlink-replaced-while-written-through": [
                [.directory("d"), .symlink("d/self", to: ".")],
                [.file("d/self/x", "1"), .directory("d/self/self"), .file("d/self/y", "2")],
            ]
            // Written through a symlink of the same layer and one of a lower layer, both to a
            // directory only a lower layer has.
            default: [
                [.directory("usr"), .directory("usr/share"), .directory("usr/share/doc"), .file("usr/share/doc/README", "r"),
                 .symlink("lowdocs", to: "/usr/share/doc")],
                [.symlink("docs", to: "usr/share/doc"), .file("docs/added", "a"), .file("lowdocs/through-lower", "b")],
            ]
            }
            try CraftedImages.layout(at: layout, base: [try TestImages.busyboxLayer()], layers: layers)
            try netctl.ok("image", "import", "--name", "applied", layout)
            switch change {
            case "implicit-parent":
                #expect(try netctl.ok("run", "--rm", "-u", "1000", "applied", "sh", "-c", "echo x > /tmp/f && stat -c %a /tmp && cat /tmp/note") == "1777\nn")
            case "whiteout-in-new-directory":
                #expect(try netctl.ok("run", "--rm", "applied", "ls", "-a", "/newdir") == ".\n..\nkept\n")
            case "symlink-replaced-while-written-through":
                #expect(try netctl.ok("run", "--rm", "applied", "sh", "-c", "ls /d; echo -; ls /d/self") == "self\nx\n-\ny\n")
            default:
                #expect(try netctl.ok("run", "--rm", "applied", "sh", "-c", "ls /usr/share/doc; readlink /docs")
                        == "README\nadded\nthrough-lower\nusr/share/doc\n")
            }
        }
    }

    /// Layers are keyed by chain ID: images with the same layers below share them, and
    /// removing one image keeps what the other still uses.
    @Test func layersAreSharedByImagesWithTheSameParents() throws {
        try withNetctl { netctl in
            let lower = netctl.root + "-lower", upper = netctl.root + "-upper"
            defer { for path in [lower, upper] { try? FileManager.default.removeItem(atPath: path) } }
            let first: [CraftedImages.Entry] = [.directory("opt"), .file("opt/one", "1")]
            try CraftedImages.layout(at: lower, base: [try TestImages.busyboxLayer()], layers: [first])
            try CraftedImages.layout(at: upper, base: [try TestImages.busyboxLayer()], layers: [first, [.file("opt/two", "2")]])
            try netctl.ok("image", "import", "--name", "lower", lower)
            try netctl.ok("image", "import", "--name", "upper", upper)
            let layers = netctl.root + "/storage/layers"
            #expect(try FileManager.default.contentsOfDirectory(atPath: layers).count == 3)
            #expect(try netctl.ok("run", "--rm", "upper", "ls", "/opt") == "one\ntwo\n")

            try netctl.ok("image", "rm", "upper")
            #expect(try FileManager.default.contentsOfDirectory(atPath: layers).count == 2)
            #expect(try netctl.ok("run", "--rm", "lower", "ls", "/opt") == "one\n")
            try netctl.ok("image", "rm", "lower")
            #expect(try FileManager.default.contentsOfDirectory(atPath: layers).isEmpty)
        }
    }

    /// A killed import's staging is removed by `system reconcile` and by the next import; a
    /// running import's (its lock held) is left alone.
    @Test func stagingOfAKilledImportIsRemoved() throws {
        try withNetctl { netctl in
            let layout = try TestImages.busybox().layout
            let staging = netctl.root + "/storage/tmp"
            func staged() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: staging).sorted() }
            func killedImport() throws {
                let killed = try netctl.netctl(["image", "import", layout], environment: ["NETCTL_FAULT": "import.after-layers"])
                #expect(killed.status == 9 || killed.status == 137, "the fault point was not reached: \(killed.stderr)")
            }
            // What another import, still running, holds.
            let live = staging + "/import-running"
            try killedImport()
            #expect(try staged().count == 1)
            try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
            let lock = open(live, O_RDONLY | O_DIRECTORY)
            try #require(lock >= 0 && flock(lock, LOCK_EX) == 0)
            defer { close(lock) }

            let report = try netctl.ok("system", "reconcile")
            #expect(report.contains("image import staging import-") && report.contains("removed"), "reconcile reported: \(report)")
            #expect(try staged() == ["import-running"])
            #expect(try netctl.ok("image", "ls", "-q").isEmpty)

            try killedImport()
            #expect(try staged().count == 2)
            try netctl.ok("image", "import", "--name", "next", layout)
            #expect(try staged() == ["import-running"])
            #expect(try netctl.ok("system", "reconcile") == "nothing to repair\n")
        }
    }

    /// A device, a FIFO (as the path or as a blob in a layout) never ends or blocks a read:
    /// refused up front, naming it.
    @Test func importRefusesWhatIsNotARegularFileOrDirectory() throws {
        try withNetctl { netctl in
            let scratch = netctl.root + "-special"
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let fifo = scratch + "/fifo"
            try #require(mkfifo(fifo, 0o600) == 0)
            for path in ["/dev/zero", fifo] {
                let result = try netctl.netctl("image", "import", path)
                #expect(result.status != 0)
                #expect(result.stderr.contains("\(path): is a ") && result.stderr.contains("expected a regular file or directory"), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
            }
            // A layout whose layer blob is a FIFO, and one whose index.json is /dev/zero.
            let layer = scratch + "/fifo-layer", index = scratch + "/zero-index"
            for (path, replace) in [(layer, "layer"), (index, "index")] {
                try CraftedImages.layout(at: path, layers: [[.file("a", "1")]])
                if replace == "layer" {
                    let manifest = try jsonObject(path + "/blobs/sha256/" + manifestHex(of: path))
                    let blob = path + "/blobs/sha256/" + String(((manifest["layers"] as! [[String: Any]])[0]["digest"] as! String).dropFirst(7))
                    try FileManager.default.removeItem(atPath: blob)
                    try #require(mkfifo(blob, 0o600) == 0)
                } else {
                    try FileManager.default.removeItem(atPath: path + "/index.json")
                    try FileManager.default.createSymbolicLink(atPath: path + "/index.json", withDestinationPath: "/dev/zero")
                }
            }
            let fifoLayer = try netctl.netctl("image", "import", layer)
            #expect(fifoLayer.status != 0 && fifoLayer.stderr.contains("is a FIFO, expected a regular file"), "\(fifoLayer.stderr)")
            let zeroIndex = try netctl.netctl("image", "import", index)
            #expect(zeroIndex.status != 0 && zeroIndex.stderr.contains("index.json: is a character device"), "\(zeroIndex.stderr)")
            #expect(try netctl.ok("image", "ls", "-q").isEmpty)
        }
    }

    /// JSON documents past 4 MiB are refused naming the document; bad JSON names which
    /// blob it is (config, manifest, index).
    @Test func jsonBlobsAreBoundedAndNamed() throws {
        try withNetctl { netctl in
            let scratch = netctl.root + "-json"
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let big = "{\"padding\": \"" + String(repeating: "x", count: 5 << 20) + "\"}"
            let cases: [(config: String?, manifest: String?, expected: String)] = [
                (big, nil, "config blob sha256:"),
                (nil, big, "manifest blob sha256:"),
                ("{not json", nil, "config blob sha256:"),
                (nil, "[", "manifest blob sha256:"),
            ]
            for (index, item) in cases.enumerated() {
                let layout = scratch + "/\(index)"
                try CraftedImages.layout(at: layout, layers: [[.file("a", "1")]], config: item.config, manifest: item.manifest)
                let result = try netctl.netctl("image", "import", layout)
                let reason = (item.config ?? item.manifest) == big ? "larger than 4 MiB" : "not valid JSON"
                #expect(result.status != 0)
                #expect(result.stderr.contains(item.expected) && result.stderr.contains(reason), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
            }
            // index.json past the limit.
            let layout = scratch + "/index"
            try CraftedImages.layout(at: layout, layers: [[.file("a", "1")]])
            let indexText = try String(contentsOfFile: layout + "/index.json", encoding: .utf8)
            try (String(repeating: " ", count: 5 << 20) + indexText).write(toFile: layout + "/index.json", atomically: false, encoding: .utf8)
            let result = try netctl.netctl("image", "import", layout)
            #expect(result.stderr.contains("index.json: larger than 4 MiB"), "\(result.stderr)")
            #expect(try netctl.ok("image", "ls", "-q").isEmpty)
        }
    }

    /// `import --name B` of an image already tagged A says what this import tagged: B.
    @Test func importPrintsOnlyWhatItTagged() throws {
        try withNetctl { netctl in
            let layout = try TestImages.busybox().layout
            #expect(try netctl.ok("image", "import", "--name", "first", layout) == "Loaded image: first:latest\n")
            #expect(try netctl.ok("image", "import", "--name", "second", layout) == "Loaded image: second:latest\n")
            #expect(try netctl.ok("image", "ls").contains("first"))
        }
    }

    private func jsonObject(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    private func manifestHex(of layout: String) throws -> String {
        let index = try jsonObject(layout + "/index.json")
        return String(((index["manifests"] as! [[String: Any]])[0]["digest"] as! String).dropFirst(7))
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
