import Foundation
import Security
import Testing
import TestSupport

/// The inventory against real databases and their own tools: this machine's dpkg status
/// and dpkg-query, Debian's Go binaries and `go version -m`, an rpmdb that rpm built and
/// `rpm -qa`; trees made here for Python, npm, apk and os-release; layered roots with
/// upgrades, whiteouts and opaque directories.
@Suite struct ScanInventoryTests {
    /// `name version source-name source-version architecture` of each package of a kind.
    static func lines(_ inventory: Inventory, _ kind: InstalledPackage.Kind) -> [String] {
        inventory.packages.filter { $0.kind == kind }
            .map { "\($0.name) \($0.version) \($0.sourceName ?? "-") \($0.sourceVersion ?? $0.version) \($0.architecture ?? "-")" }
            .sorted()
    }

    static func summary(_ inventory: Inventory) -> [String] {
        inventory.packages.map { "\($0.kind.rawValue) \($0.name) \($0.version) \($0.location) \($0.layer ?? "-")" }.sorted()
    }

    // MARK: - dpkg

    @Test func hostDpkgStatusEqualsDpkgQuery() throws {
        let root = try ScanTree()
        defer { root.remove() }
        try root.copy(from: "/var/lib/dpkg/status", to: "var/lib/dpkg/status")
        let start = ContinuousClock.now
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        print("inventory of this machine's dpkg status (\(inventory.packages.count) packages): \(ContinuousClock.now - start)")

        let query = try runCommand(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version} ${source:Package} ${source:Version} ${Architecture}\n"])
        #expect(query.status == 0)
        let expected = query.stdout.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, fields[0] != "not-installed", fields[0] != "config-files" else { return nil }
            return String(fields[1])
        }.sorted()
        #expect(expected.count > 100)
        #expect(Self.lines(inventory, .dpkg) == expected)
        #expect(inventory.skipped == [])
        #expect(inventory.packages.allSatisfy { $0.location == "var/lib/dpkg/status" && $0.layer == nil })
    }

    @Test func corruptDpkgEntryIsSkippedAndTheOthersKept() throws {
        let root = try ScanTree()
        defer { root.remove() }
        let broken = "Package: libbroken1\nStatus: install ok installed\nArchitecture: amd64\nDescription: no version\n\n"
        let garbage = "Package: libgarbage\nStatus: install ok installed\nthis line has no colon\nVersion: 1\n\n"
        try root.write("var/lib/dpkg/status", dpkgStanza("libc6", "2.36-9+deb12u3", source: "glibc")
                       + broken + dpkgStanza("zlib1g", "1:1.2.13.dfsg-1", source: "zlib")
                       + garbage + dpkgStanza("gone", "1.0", status: "deinstall ok config-files")
                       + dpkgStanza("libssl3", "3.0.11-1~deb12u2+b1", source: "openssl (3.0.11-1~deb12u2)")
                       + dpkgStanza("held", "2.0", status: "hold ok installed"))
        // distroless: one stanza per file, and md5sums beside them.
        try root.write("var/lib/dpkg/status.d/base-files", dpkgStanza("base-files", "12.4+deb12u5"))
        try root.write("var/lib/dpkg/status.d/base-files.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/issue\n")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        #expect(Self.lines(inventory, .dpkg) == [
            "base-files 12.4+deb12u5 base-files 12.4+deb12u5 amd64",
            "held 2.0 held 2.0 amd64",
            "libc6 2.36-9+deb12u3 glibc 2.36-9+deb12u3 amd64",
            "libssl3 3.0.11-1~deb12u2+b1 openssl 3.0.11-1~deb12u2 amd64",
            "zlib1g 1:1.2.13.dfsg-1 zlib 1:1.2.13.dfsg-1 amd64",
        ])
        #expect(inventory.skipped == [
            "var/lib/dpkg/status: entry 2 (\"libbroken1\"): no Version field",
            // Line 40 of the file: the stanzas above are 16, 5 and 16 lines long.
            "var/lib/dpkg/status: entry 4 (\"libgarbage\"): line 40: expected `Field: value`, got \"this line has no colon\"",
        ])
        #expect(inventory.packages.first { $0.name == "base-files" }?.location == "var/lib/dpkg/status.d/base-files")
    }

    // MARK: - Go

    /// `go version -m` as packages: stdlib at the Go version, then mod and dep lines with
    /// `=>` replacements standing in for what they replace.
    static func goVersionM(_ path: String) throws -> [String] {
        let result = try runCommand(["go", "version", "-m", path])
        try #require(result.status == 0, "go version -m \(path): \(result.stderr)")
        var lines = result.stdout.split(separator: "\n").map(String.init)
        let goVersion = try #require(lines.removeFirst().split(separator: " ").last)
        var out = ["stdlib \(goVersion.dropFirst(2))"]
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 2 else { continue }
            let version = fields.count >= 3 ? fields[2] : "(devel)"
            switch fields[0] {
            case "mod", "dep": out.append("\(fields[1]) \(version)")
            case "=>": out[out.count - 1] = "\(fields[1]) \(version)"
            default: break
            }
        }
        return out
    }

    @Test(arguments: ["/usr/bin/umoci", "/usr/bin/skopeo"])
    func debianGoBinaryEqualsGoVersionM(binary: String) throws {
        let root = try ScanTree()
        defer { root.remove() }
        let name = (binary as NSString).lastPathComponent
        try root.copy(from: binary, to: "usr/bin/\(name)")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        let ours = inventory.packages.filter { $0.kind == .go }
        #expect(ours.map { "\($0.name) \($0.version)" } == (try Self.goVersionM(binary)))
        #expect(ours.allSatisfy { $0.location == "usr/bin/\(name)" })
        #expect(inventory.skipped == [])
    }

    /// A binary with a main module, a dependency and a replacement, built here offline.
    @Test func builtGoBinaryWithReplacementEqualsGoVersionM() throws {
        let source = try ScanTree("netctl-scan-go-")
        let root = try ScanTree()
        defer { source.remove(); root.remove() }
        try source.write("go.mod", "module example.com/app\n\ngo 1.19\n\nrequire example.com/dep v1.2.3\n\nreplace example.com/dep v1.2.3 => example.com/fork v1.2.4\n")
        try source.write("main.go", "package main\n\nimport \"example.com/dep\"\n\nfunc main() { dep.Hello() }\n")
        // The fork, vendored, so nothing is fetched: -mod=vendor needs modules.txt.
        try source.write("vendor/example.com/dep/dep.go", "package dep\n\nfunc Hello() {}\n")
        try source.write("vendor/modules.txt", "# example.com/dep v1.2.3 => example.com/fork v1.2.4\n## explicit\nexample.com/dep\n")
        let build = try runCommand(["sh", "-c", "cd '\(source.path)' && go build -mod=vendor -o app ."],
                                   environment: ["GOPROXY": "off", "GOFLAGS": "", "GOWORK": "off", "GOTOOLCHAIN": "local"])
        try #require(build.status == 0, "go build: \(build.stderr)")
        try root.copy(from: source.absolute("app"), to: "srv/app")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        let expected = try Self.goVersionM(source.absolute("app"))
        #expect(expected.contains("example.com/fork v1.2.4"))
        #expect(inventory.packages.map { "\($0.name) \($0.version)" } == expected.sorted())
    }

    @Test func goBuildInfoOfNonGoDataIsNil() throws {
        #expect(try GoBuildInfo.parse(Array("#!/bin/sh\necho hi\n".utf8)) == nil)
        let ls = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/bin/ls")))
        #expect(try GoBuildInfo.parse(ls) == nil)
    }

    /// Go before 1.18 points at its strings: an ELF written here in that layout (Go's
    /// debug/buildinfo: header in the first writable segment when there are no section
    /// headers, pointers to {data, len} string headers, little-endian).
    @Test func goBuildInfoInThePointerFormat() throws {
        var elf = [UInt8](repeating: 0, count: 0x2000)
        func put(_ value: UInt64, at offset: Int, size: Int) {
            for index in 0..<size { elf[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
        }
        elf.replaceSubrange(0..<4, with: [0x7F, 0x45, 0x4C, 0x46])
        elf[4] = 2; elf[5] = 1; elf[6] = 1                               // ELFCLASS64, little-endian
        put(64, at: 0x20, size: 8); put(56, at: 0x36, size: 2); put(1, at: 0x38, size: 2)
        put(1, at: 64, size: 4); put(6, at: 68, size: 4)                 // PT_LOAD, PF_R|PF_W
        put(0x1000, at: 72, size: 8); put(0x400000, at: 80, size: 8); put(0x1000, at: 96, size: 8)
        elf.replaceSubrange(0x1000..<0x100E, with: [0xFF] + Array(" Go buildinf:".utf8))
        elf[0x100E] = 8; elf[0x100F] = 0
        put(0x400100, at: 0x1010, size: 8); put(0x400110, at: 0x1018, size: 8)
        let version = Array("go1.16.3".utf8)
        let sentinel = [UInt8](repeating: 0x30, count: 16)
        let modules = sentinel + Array("path\texample.com/old/cmd\nmod\texample.com/old\tv0.1.0\th1:x=\ndep\tgolang.org/x/text\tv0.3.5\th1:y=\n".utf8) + sentinel
        put(0x400200, at: 0x1100, size: 8); put(UInt64(version.count), at: 0x1108, size: 8)
        put(0x400300, at: 0x1110, size: 8); put(UInt64(modules.count), at: 0x1118, size: 8)
        elf.replaceSubrange(0x1200..<(0x1200 + version.count), with: version)
        elf.replaceSubrange(0x1300..<(0x1300 + modules.count), with: modules)

        let info = try #require(try GoBuildInfo.parse(elf))
        #expect(info.packages(location: "app").map { "\($0.name) \($0.version)" } == ["stdlib 1.16.3", "example.com/old v0.1.0", "golang.org/x/text v0.3.5"])
        #expect(info.path == "example.com/old/cmd")
    }

    /// Every parser of outside bytes, on damaged copies of real inputs: each answers (a
    /// value, nil or an error), none traps.
    @Test func parsersSurviveDamagedInput() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        func damaged(_ bytes: [UInt8], near window: Range<Int>? = nil) -> [UInt8] {
            var copy = bytes
            if random(4) == 0 { copy.removeLast(random(copy.count)) }
            let range = window.map { $0.clamped(to: 0..<max(copy.count, 1)) } ?? 0..<max(copy.count, 1)
            for _ in 0..<(1 + random(8)) where !copy.isEmpty && !range.isEmpty {
                copy[range.lowerBound + random(range.count)] = UInt8(random(256))
            }
            return copy
        }
        let status = Array((dpkgStanza("libc6", "2.36-9", source: "glibc (2.36-9)") + dpkgStanza("zlib1g", "1:1.2.13")).utf8)
        let apk = Array(Self.apkInstalled.utf8)
        let lock = Array(#"{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": "1.0.0", "dev": false, "name": "b\u00e9\ud83d\ude00"}}}"#.utf8)
        for _ in 0..<3000 {
            _ = DpkgStatus.parse(damaged(status), location: "s")
            _ = APKDatabase.parse(damaged(apk), location: "a")
            _ = try? NPMPackage.parse(lockfile: damaged(lock), location: "l")
            _ = try? NPMPackage.parse(packageJSON: damaged(lock), location: "p")
            _ = try? PythonMetadata.parse(damaged(status), location: "m")
            _ = OSReleaseFile.parse(damaged(Array("ID=\"debian\\\"x\"\nVERSION_ID='12'\n".utf8)))
        }
        // A header of rpm's own, and Go binaries damaged where their ELF headers and build
        // information are.
        let work = try ScanTree("netctl-scan-rpm-")
        defer { work.remove() }
        let db = try Self.makeRPMDatabase(in: work)
        let blob = try runCommand(["python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT hex(blob) FROM Packages LIMIT 1').fetchone()[0])", db + "/rpmdb.sqlite"])
        let hex = Array(blob.stdout.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        let header = stride(from: 0, to: hex.count - 1, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
        #expect(try RPMHeader.parse(header).package(location: "r")?.name.hasPrefix("tiny-") == true)
        for _ in 0..<3000 { _ = try? RPMHeader.parse(damaged(header)).package(location: "r") }
        let umoci = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/usr/bin/umoci")))
        for _ in 0..<40 {
            _ = try? GoBuildInfo.parse(damaged(umoci, near: 0..<4096))
            _ = try? GoBuildInfo.parse(damaged(umoci, near: (umoci.count - 8192)..<umoci.count))
        }
    }

    // MARK: - RPM

    static let rpmSpecs: [(name: String, spec: String)] = [
        ("tiny-hello", "Name: tiny-hello\nVersion: 1.0\nRelease: 1.el9\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n%files\n"),
        ("tiny-epoch", "Name: tiny-epoch\nEpoch: 2\nVersion: 3.1~rc1\nRelease: 4\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n%files\n"),
        ("tiny-sub", "Name: tiny-base\nVersion: 0.9\nRelease: 7\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n%package -n tiny-sub\nSummary: sub\n%description -n tiny-sub\nsub\n%files -n tiny-sub\n"),
    ]

    /// An rpmdb.sqlite that rpm itself wrote: packages built with rpmbuild, installed with
    /// `rpm -i --justdb` into a database of their own.
    static func makeRPMDatabase(in work: ScanTree) throws -> String {
        let rpm = ["--define", "_topdir \(work.path)/top", "--define", "_db_backend sqlite", "--define", "_dbpath \(work.path)/db"]
        for (name, spec) in rpmSpecs {
            try work.write("\(name).spec", spec)
            let build = try runCommand(["rpmbuild", "-bb", "--quiet"] + rpm + [work.absolute("\(name).spec")])
            try #require(build.status == 0, "rpmbuild: \(build.stderr)")
        }
        let initdb = try runCommand(["rpm"] + rpm + ["--initdb"])
        try #require(initdb.status == 0, "rpm --initdb: \(initdb.stderr)")
        let packages = try FileManager.default.contentsOfDirectory(atPath: work.absolute("top/RPMS/noarch")).map { work.absolute("top/RPMS/noarch/\($0)") }
        #expect(packages.count == 3)
        let install = try runCommand(["rpm"] + rpm + ["-i", "--justdb", "--nodeps", "--ignoreos", "--ignorearch", "--nosignature"] + packages)
        try #require(install.status == 0, "rpm -i: \(install.stderr)")
        return work.absolute("db")
    }

    @Test func rpmDatabaseEqualsRpmQa() throws {
        let work = try ScanTree("netctl-scan-rpm-")
        let root = try ScanTree()
        defer { work.remove(); root.remove() }
        let db = try Self.makeRPMDatabase(in: work)
        try root.copy(from: db + "/rpmdb.sqlite", to: "var/lib/rpm/rpmdb.sqlite")
        let before = try FileManager.default.contentsOfDirectory(atPath: root.absolute("var/lib/rpm"))

        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        let query = try runCommand(["rpm", "--dbpath", db, "--define", "_db_backend sqlite", "-qa", "--qf",
                                    "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{SOURCERPM} %{ARCH}\n"])
        #expect(query.status == 0)
        // The source package's name: the source RPM's file name without version-release.src.rpm.
        let expected = query.stdout.split(separator: "\n").map { line -> String in
            let f = line.split(separator: " ")
            let source = f[2].dropLast(".src.rpm".count).split(separator: "-").dropLast(2).joined(separator: "-")
            return "\(f[0]) \(f[1]) \(source) \(f[1]) \(f[3])"
        }.sorted()
        #expect(Self.lines(inventory, .rpm) == expected)
        #expect(expected == ["tiny-epoch 2:3.1~rc1-4 tiny-epoch 2:3.1~rc1-4 noarch", "tiny-hello 1.0-1.el9 tiny-hello 1.0-1.el9 noarch",
                             "tiny-sub 0.9-7 tiny-base 0.9-7 noarch"])
        #expect(inventory.skipped == [])
        // Nothing written beside the database (no -wal, no -shm): the image stays as it was.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.absolute("var/lib/rpm")) == before)
    }

    @Test func truncatedRpmDatabaseIsSkippedAndTheRestInventoried() throws {
        let work = try ScanTree("netctl-scan-rpm-")
        let root = try ScanTree()
        defer { work.remove(); root.remove() }
        let db = try Self.makeRPMDatabase(in: work)
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: db + "/rpmdb.sqlite")))
        try root.write("usr/lib/sysimage/rpm/rpmdb.sqlite", bytes: Array(whole.prefix(whole.count / 3)))
        try root.write("var/lib/dpkg/status", dpkgStanza("libc6", "2.36-9"))
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        #expect(Self.lines(inventory, .dpkg) == ["libc6 2.36-9 libc6 2.36-9 amd64"])
        #expect(inventory.skipped.count == 1)
        #expect(inventory.skipped.first?.hasPrefix("usr/lib/sysimage/rpm/rpmdb.sqlite: ") == true)
        #expect(!(inventory.skipped.first ?? "").contains("/proc/self"))
    }

    @Test func corruptRpmHeaderIsSkippedAndTheOtherPackagesKept() throws {
        let work = try ScanTree("netctl-scan-rpm-")
        let root = try ScanTree()
        defer { work.remove(); root.remove() }
        let db = try Self.makeRPMDatabase(in: work)
        // One header cut short, as a damaged page would leave it.
        let damage = try runCommand(["python3", "-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            hnum, blob = c.execute("SELECT hnum, blob FROM Packages WHERE hnum = (SELECT min(hnum) FROM Packages)").fetchone()
            c.execute("UPDATE Packages SET blob = ? WHERE hnum = ?", (blob[:40], hnum))
            c.commit()
            print(hnum)
            """, db + "/rpmdb.sqlite"])
        try #require(damage.status == 0, "\(damage.stderr)")
        let hnum = damage.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try root.copy(from: db + "/rpmdb.sqlite", to: "var/lib/rpm/rpmdb.sqlite")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        #expect(inventory.packages.filter { $0.kind == .rpm }.count == 2)
        #expect(inventory.skipped.count == 1)
        #expect(inventory.skipped.first?.hasPrefix("var/lib/rpm/rpmdb.sqlite: package \(hnum): RPM header of 40 bytes") == true)
    }

    /// A database whose last transaction is still in its -wal (rpm stopped before a
    /// checkpoint): the inventory sees it as rpm does, and writes nothing beside it.
    @Test func rpmDatabaseWithUncheckpointedWAL() throws {
        let work = try ScanTree("netctl-scan-rpm-")
        let root = try ScanTree()
        let oracle = try ScanTree("netctl-scan-rpm-oracle-")
        defer { work.remove(); root.remove(); oracle.remove() }
        let db = try Self.makeRPMDatabase(in: work)
        try root.makeDirectory("var/lib/rpm")
        let erase = try runCommand(["python3", "-c", """
            import sqlite3, sys, shutil
            c = sqlite3.connect(sys.argv[1] + "/rpmdb.sqlite")
            c.execute("PRAGMA wal_autocheckpoint = 0")
            c.execute("DELETE FROM Packages WHERE hnum = (SELECT max(hnum) FROM Packages)")
            c.commit()
            for target in sys.argv[2:]:
                for suffix in ("", "-wal"):
                    shutil.copy(sys.argv[1] + "/rpmdb.sqlite" + suffix, target + "/rpmdb.sqlite" + suffix)
            """, db, root.absolute("var/lib/rpm"), oracle.path])
        try #require(erase.status == 0, "\(erase.stderr)")
        let walSize = try FileManager.default.attributesOfItem(atPath: root.absolute("var/lib/rpm/rpmdb.sqlite-wal"))[.size] as? Int
        #expect((walSize ?? 0) > 0)
        let before = try FileManager.default.contentsOfDirectory(atPath: root.absolute("var/lib/rpm")).sorted()

        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        let query = try runCommand(["rpm", "--dbpath", oracle.path, "--define", "_db_backend sqlite", "-qa", "--qf", "%{NAME}\n"])
        #expect(query.status == 0)
        #expect(inventory.packages.map(\.name) == query.stdout.split(separator: "\n").map(String.init).sorted())
        #expect(inventory.packages.count == 2)
        #expect(inventory.skipped == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.absolute("var/lib/rpm")).sorted() == before)
    }

    // MARK: - apk

    /// A database in the form apk-tools writes (fields as in alpine:3.19's).
    static let apkInstalled = """
        C:Q1/G+cmWRcEsn8ufmKOH3CcqpfMRA=
        P:musl
        V:1.2.4_git20230717-r4
        A:x86_64
        S:407278
        I:667648
        T:the musl c library (libc) implementation
        U:https://musl.libc.org/
        L:MIT
        o:musl
        m:Natanael Copa <ncopa@alpinelinux.org>
        t:1700500154
        c:c4ce7e0b7dd5e3a8c9e8b8ad8f7d1ba5b0df3b3c
        p:so:libc.musl-x86_64.so.1=1
        r:libc6
        F:lib
        R:ld-musl-x86_64.so.1
        a:0:0:755
        Z:Q1bqxLqAg7HxC1nUfOhVlxEkRX6a8=
        R:libc.musl-x86_64.so.1
        a:0:0:777
        Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

        C:Q1yB3CVUFMOjnLOOEDUIAXRa8bGYE=
        P:libcrypto3
        V:3.1.4-r5
        A:x86_64
        S:1720329
        I:4366336
        T:Crypto library from openssl
        U:https://www.openssl.org/
        L:Apache-2.0
        o:openssl
        m:Ariadne Conill <ariadne@dereferenced.org>
        t:1707317744
        D:so:libc.musl-x86_64.so.1
        F:usr/lib
        R:libcrypto.so.3
        a:0:0:755
        Z:Q1sVh2Tr8Ty3xYCT3h4z0xg0h5fZ0=

        C:Q1broken
        V:1.0-r0
        A:x86_64

        C:Q1Qz1xyy6wGctCmCBlgoh6FgswK+Y=
        P:busybox-binsh
        V:1.36.1-r15
        A:x86_64
        o:busybox
        F:bin
        R:sh

        """

    @Test func apkDatabase() throws {
        let root = try ScanTree()
        defer { root.remove() }
        try root.write("lib/apk/db/installed", Self.apkInstalled)
        try root.write("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        #expect(Self.lines(inventory, .apk) == [
            "busybox-binsh 1.36.1-r15 busybox 1.36.1-r15 x86_64",
            "libcrypto3 3.1.4-r5 openssl 3.1.4-r5 x86_64",
            "musl 1.2.4_git20230717-r4 musl 1.2.4_git20230717-r4 x86_64",
        ])
        #expect(inventory.skipped == ["lib/apk/db/installed: entry 3: no P: (name) line"])
        #expect(inventory.os == OSRelease(id: "alpine", versionID: "3.19.1", prettyName: "Alpine Linux v3.19"))
    }

    // MARK: - os-release

    @Test func osReleaseVariants() throws {
        #expect(OSReleaseFile.parse(Array("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n".utf8))
                == OSRelease(id: "debian", versionID: "12", prettyName: "Debian GNU/Linux 12 (bookworm)"))
        #expect(OSReleaseFile.parse(Array("# comment\nID='rhel'\r\nVERSION_ID='9.3'\r\nPRETTY_NAME=\"Red Hat \\\"Enterprise\\\" Linux\"\r\n".utf8))
                == OSRelease(id: "rhel", versionID: "9.3", prettyName: "Red Hat \"Enterprise\" Linux"))
        #expect(OSReleaseFile.parse(Array("NAME=Distroless\n".utf8)) == nil)

        // etc/os-release a link to ../usr/lib/os-release, as Debian ships it.
        let root = try ScanTree()
        defer { root.remove() }
        try root.write("usr/lib/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n")
        try root.link("etc/os-release", to: "../usr/lib/os-release")
        #expect(try InventoryScanner.inventory(of: ScanRoot(directory: root.path)).os == OSRelease(id: "ubuntu", versionID: "22.04"))
        // A link between the two places of rpmdb.sqlite: its packages once.
        let work = try ScanTree("netctl-scan-rpm-")
        defer { work.remove() }
        try root.copy(from: try Self.makeRPMDatabase(in: work) + "/rpmdb.sqlite", to: "usr/lib/sysimage/rpm/rpmdb.sqlite")
        try root.link("var/lib/rpm/rpmdb.sqlite", to: "../../../usr/lib/sysimage/rpm/rpmdb.sqlite")
        #expect(try InventoryScanner.inventory(of: ScanRoot(directory: root.path)).packages.map(\.location)
                == Array(repeating: "usr/lib/sysimage/rpm/rpmdb.sqlite", count: 3))
        // Only usr/lib/os-release.
        try FileManager.default.removeItem(atPath: root.absolute("etc/os-release"))
        #expect(try InventoryScanner.inventory(of: ScanRoot(directory: root.path)).os?.id == "ubuntu")
        // etc/os-release wins over usr/lib/os-release.
        try root.write("etc/os-release", "ID=debian\n")
        #expect(try InventoryScanner.inventory(of: ScanRoot(directory: root.path)).os?.id == "debian")
    }

    // MARK: - Python and npm

    static func makeLanguageTree(_ root: ScanTree) throws {
        let site = "usr/lib/python3/dist-packages"
        try root.write("\(site)/idna-3.3.dist-info/METADATA", "Metadata-Version: 2.1\nName: idna\nVersion: 3.3\nSummary: IDNA\n\nLong: body\nName: not-this\n")
        try root.write("\(site)/idna-3.3.dist-info/RECORD", "idna/__init__.py,,\n")
        try root.write("\(site)/PyYAML-6.0.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: PyYAML\nVersion: 6.0\n")
        try root.write("\(site)/six-1.16.0.egg-info", "Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\n")
        try root.write("usr/local/lib/python3.11/site-packages/broken-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: broken\n")

        let app = "srv/app"
        try root.write("\(app)/package.json", #"{"name": "app", "version": "1.0.0", "dependencies": {"express": "^4"}}"#)
        try root.write("\(app)/node_modules/express/package.json",
                       #"{"name":"express","version":"4.18.2","scripts":{"test":"mocha"},"nested":{"version":"no","a":[1,2,{"b":null}]}}"#)
        try root.write("\(app)/node_modules/express/lib/package.json", #"{"type": "module"}"#)
        try root.write("\(app)/node_modules/express/node_modules/debug/package.json", #"{"version": "2.6.9", "name": "debug"}"#)
        try root.write("\(app)/node_modules/@babel/core/package.json", "\u{FEFF}{\"name\": \"@babel/core\", \"version\": \"7.23.0\", \"description\": \"caf\\u00e9 \\ud83d\\ude00\"}")
        try root.write("\(app)/node_modules/.bin/package.json", #"{"name": "bin", "version": "0"}"#)
        try root.write("\(app)/node_modules/bad/package.json", #"{"name": "bad", "version": "1.0.0""#)
        try root.write("\(app)/package-lock.json", """
            {"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {
              "": {"name": "app", "version": "1.0.0"},
              "node_modules/express": {"version": "4.18.2", "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz"},
              "node_modules/lodash": {"version": "4.17.21"},
              "node_modules/@types/node": {"version": "20.8.0", "dev": true},
              "node_modules/local": {"resolved": "packages/local", "link": true},
              "packages/local": {"name": "local", "version": "0.1.0"},
              "node_modules/alias": {"name": "ms", "version": "2.1.3"},
              "node_modules/express/node_modules/qs": {"version": "6.11.0"}
            }}
            """)
        try root.write("srv/old/package-lock.json", #"{"lockfileVersion": 1, "dependencies": {}}"#)
    }

    @Test func pythonAndNpmPackages() throws {
        let root = try ScanTree()
        defer { root.remove() }
        try Self.makeLanguageTree(root)
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        let site = "usr/lib/python3/dist-packages"
        #expect(inventory.packages.filter { $0.kind == .python }.map { "\($0.name) \($0.version) \($0.location)" } == [
            "PyYAML 6.0 \(site)/PyYAML-6.0.egg-info/PKG-INFO",
            "idna 3.3 \(site)/idna-3.3.dist-info/METADATA",
            "six 1.16.0 \(site)/six-1.16.0.egg-info",
        ])
        #expect(inventory.packages.filter { $0.kind == .npm }.map { "\($0.name) \($0.version) \($0.location)" } == [
            "@babel/core 7.23.0 srv/app/node_modules/@babel/core/package.json",
            "debug 2.6.9 srv/app/node_modules/express/node_modules/debug/package.json",
            "express 4.18.2 srv/app/node_modules/express/package.json",
            "lodash 4.17.21 srv/app/package-lock.json",
            "ms 2.1.3 srv/app/package-lock.json",
            "qs 6.11.0 srv/app/package-lock.json",
        ])
        #expect(inventory.skipped.sorted() == [
            "srv/app/node_modules/bad/package.json: not JSON: byte 34: expected `,` or `}`",
            "srv/old/package-lock.json: lockfileVersion 1: only 2 and 3 (with `packages`) are read",
            "usr/local/lib/python3.11/site-packages/broken-1.0.dist-info/METADATA: no Version header",
        ])
    }

    // MARK: - Links

    @Test func linksOutOfTheRootAreNotFollowed() throws {
        let outside = try ScanTree("netctl-scan-outside-")
        let root = try ScanTree()
        defer { outside.remove(); root.remove() }
        try outside.write("evil-1.0.dist-info/METADATA", "Name: evil\nVersion: 1.0\n")
        try outside.write("evilpkg/package.json", #"{"name": "evil", "version": "1.0.0"}"#)
        try outside.write("os-release", "ID=evil\n")
        try outside.write("status", dpkgStanza("evil", "1.0"))
        try root.link("usr/lib/python3/dist-packages/evil-1.0.dist-info", to: outside.absolute("evil-1.0.dist-info"))
        try root.link("app/node_modules/evil", to: outside.absolute("evilpkg"))
        try root.link("etc/os-release", to: "../../../../../../../../" + outside.absolute("os-release"))
        try root.link("var/lib/dpkg/status", to: outside.absolute("status"))
        try root.link("bin", to: "/usr/bin")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        #expect(inventory.packages == [])
        #expect(inventory.os == nil)
    }

    @Test func walkStopsBelowSixtyFourLevels() throws {
        let root = try ScanTree()
        defer { root.remove() }
        let deep = (0..<64).map { "d\($0)" }.joined(separator: "/")
        try root.write("\(deep)/ok-1.0.dist-info/METADATA", "Name: too-deep\nVersion: 1.0\n")
        try root.write("d0/fine-1.0.dist-info/METADATA", "Name: fine\nVersion: 1.0\n")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        #expect(inventory.packages.map(\.name) == ["fine"])
        #expect(inventory.skipped == ["\(deep)/ok-1.0.dist-info: deeper than 64 levels, not walked"])
    }

    // MARK: - Layers

    @Test func layerAttributionUpgradesWhiteoutsAndOpaqueDirectories() throws {
        let layers = try (0..<3).map { _ in try ScanTree("netctl-scan-layer-") }
        defer { layers.forEach { $0.remove() } }
        let site = "usr/lib/python3/dist-packages"
        // Layer 1: the base.
        try layers[0].write("var/lib/dpkg/status", dpkgStanza("base-files", "12.4") + dpkgStanza("libc6", "2.36-9", source: "glibc")
                            + dpkgStanza("curl", "7.88.1-10"))
        try layers[0].write("etc/os-release", "ID=debian\nVERSION_ID=12\n")
        try layers[0].write("\(site)/foo-1.0.dist-info/METADATA", "Name: foo\nVersion: 1.0\n")
        try layers[0].write("\(site)/bar-2.0.dist-info/METADATA", "Name: bar\nVersion: 2.0\n")
        try layers[0].write("opt/node/node_modules/left/package.json", #"{"name": "left", "version": "1.0.0"}"#)
        try layers[0].write("var/lib/dpkg/status.d/tzdata", dpkgStanza("tzdata", "2024a-0+deb12u1"))
        // Layer 2: libc6 upgraded, curl removed, openssl added; foo's dist-info whited out.
        try layers[1].write("var/lib/dpkg/status", dpkgStanza("base-files", "12.4") + dpkgStanza("libc6", "2.36-9+deb12u3", source: "glibc")
                            + dpkgStanza("curl", "7.88.1-10", status: "deinstall ok config-files") + dpkgStanza("libssl3", "3.0.11-1"))
        try layers[1].whiteout("\(site)/foo-1.0.dist-info")
        try layers[1].write("\(site)/baz-0.1.dist-info/METADATA", "Name: baz\nVersion: 0.1\n")
        // Layer 3: node_modules opaque (left gone, right new); tzdata rewritten unchanged;
        // bar's METADATA rewritten with a new version; the status file untouched.
        try layers[2].opaque("opt/node/node_modules")
        try layers[2].write("opt/node/node_modules/right/package.json", #"{"name": "right", "version": "2.0.0"}"#)
        try layers[2].write("var/lib/dpkg/status.d/tzdata", dpkgStanza("tzdata", "2024a-0+deb12u1"))
        try layers[2].write("\(site)/bar-2.0.dist-info/METADATA", "Name: bar\nVersion: 2.0.1\n")
        try layers[2].whiteout("etc/os-release")

        let root = ScanRoot(layers: layers.enumerated().map { (directory: $1.path, diffID: "sha256:layer\($0 + 1)") })
        let inventory = try InventoryScanner.inventory(of: root)
        #expect(Self.summary(inventory) == [
            "dpkg base-files 12.4 var/lib/dpkg/status sha256:layer1",
            "dpkg libc6 2.36-9+deb12u3 var/lib/dpkg/status sha256:layer2",
            "dpkg libssl3 3.0.11-1 var/lib/dpkg/status sha256:layer2",
            "dpkg tzdata 2024a-0+deb12u1 var/lib/dpkg/status.d/tzdata sha256:layer1",
            "npm right 2.0.0 opt/node/node_modules/right/package.json sha256:layer3",
            "python bar 2.0.1 \(site)/bar-2.0.dist-info/METADATA sha256:layer3",
            "python baz 0.1 \(site)/baz-0.1.dist-info/METADATA sha256:layer2",
        ])
        #expect(inventory.os == nil)
        #expect(inventory.skipped == [])

        // The same layers merged into one directory: the same packages, no layers.
        let merged = try ScanTree()
        defer { merged.remove() }
        let copy = try runCommand(["sh", "-c", "cp -a '\(layers[0].path)/.' '\(merged.path)/' && rm -rf '\(merged.path)/\(site)/foo-1.0.dist-info' '\(merged.path)/opt/node/node_modules/left' '\(merged.path)/etc/os-release' && cp -a '\(layers[1].path)/usr' '\(layers[1].path)/var' '\(merged.path)/' 2>/dev/null; rm -f '\(merged.path)/\(site)/foo-1.0.dist-info'; cp -a '\(layers[2].path)/.' '\(merged.path)/' && rm -f '\(merged.path)/etc/os-release'"])
        try #require(copy.status == 0, "\(copy.stderr)")
        let flat = try InventoryScanner.inventory(of: ScanRoot(directory: merged.path))
        #expect(Self.summary(flat) == Self.summary(inventory).map { $0.replacingOccurrences(of: #" sha256:layer\d"#, with: " -", options: .regularExpression) })
    }

    /// An rpmdb rewritten by a later layer that erased one package: the others stay with
    /// the layer that installed them, the erased one is gone.
    @Test func rpmDatabaseAcrossLayers() throws {
        let work = try ScanTree("netctl-scan-rpm-")
        let layers = try (0..<2).map { _ in try ScanTree("netctl-scan-layer-") }
        defer { work.remove(); layers.forEach { $0.remove() } }
        let db = try Self.makeRPMDatabase(in: work)
        try layers[0].copy(from: db + "/rpmdb.sqlite", to: "var/lib/rpm/rpmdb.sqlite")
        let erase = try runCommand(["rpm", "--dbpath", db, "--define", "_db_backend sqlite", "-e", "--justdb", "--nodeps", "tiny-hello"])
        try #require(erase.status == 0, "\(erase.stderr)")
        try layers[1].copy(from: db + "/rpmdb.sqlite", to: "var/lib/rpm/rpmdb.sqlite")
        let inventory = try InventoryScanner.inventory(of: ScanRoot(layers: [(layers[0].path, "sha256:one"), (layers[1].path, "sha256:two")]))
        #expect(Self.summary(inventory) == [
            "rpm tiny-epoch 2:3.1~rc1-4 var/lib/rpm/rpmdb.sqlite sha256:one",
            "rpm tiny-sub 0.9-7 var/lib/rpm/rpmdb.sqlite sha256:one",
        ])
        #expect(inventory.skipped == [])
    }

    // MARK: - Cost

    /// 1,000 dpkg packages, 300 Python and 300 npm packages among 3,000 other files.
    @Test func inventoryOfAThousandPackagesIsQuick() throws {
        let root = try ScanTree()
        defer { root.remove() }
        try root.write("var/lib/dpkg/status", (0..<1000).map { dpkgStanza("package\($0)", "1.\($0)-1", source: "source\($0 / 3)") }.joined())
        // One python process writes the other files: FileManager would take half a minute.
        let made = try runCommand(["python3", "-c", """
            import os, sys
            root = sys.argv[1]
            def write(path, text):
                path = os.path.join(root, path)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f: f.write(text)
            for i in range(300):
                write(f"usr/lib/python3/dist-packages/py{i}-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\\nName: py{i}\\nVersion: 1.{i}\\n\\n" + "body\\n" * 400)
                write(f"usr/lib/python3/dist-packages/py{i}/__init__.py", "")
                write(f"srv/app/node_modules/js{i}/package.json", '{"name": "js%d", "version": "1.0.%d", "description": "%s"}' % (i, i, "x" * 2000))
                write(f"srv/app/node_modules/js{i}/index.js", "")
                for other in range(8): write(f"usr/share/doc/p{i}/file{other}", "text")
            """, root.path])
        try #require(made.status == 0, "\(made.stderr)")
        _ = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        // This thread's CPU time (the system calls included), not the wall clock: the
        // machine is shared, and a loaded one would make a wall-clock bound fail for nothing.
        func cpuTime() -> Duration {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return .seconds(time.tv_sec) + .nanoseconds(time.tv_nsec)
        }
        let start = cpuTime(), wallStart = ContinuousClock.now
        let inventory = try InventoryScanner.inventory(of: ScanRoot(directory: root.path))
        let elapsed = cpuTime() - start, wall = ContinuousClock.now - wallStart
        print("inventory of \(inventory.packages.count) packages among 4,800 files: \(elapsed) of CPU, \(wall) in all")
        #expect(inventory.packages.count == 1600)
        #expect(elapsed < .milliseconds(100))
    }
}
