import Foundation
import Security
import Testing
import TestSupport

/// The advisory database: OSV files imported (directories, zips, bad files, replacements,
/// atomicity) and matched as the OSV schema's evaluation says.
@Suite struct ScanDatabaseTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/scan/osv").path

    /// True once the real version orderings are in (before, `VersionScheme.compare` is a
    /// string comparison): the vectors that need a real order run then.
    static let realVersionOrder = VersionScheme.semver.compare("1.9.0", "1.10.0") == -1
        && VersionScheme.debian.compare("5.6.1-1", "5.6.1+really5.4.5-1") == -1

    // MARK: - Evaluation

    /// The evaluation section's cases, each as a record of its own package (versions whose
    /// string order is their order, so they hold before the orderings are merged too).
    @Test func evaluationVectors() throws {
        try withScratch { scratch in
            let records: [(String, [[String: Any]])] = [
                ("INTRO-FIXED", [affected("npm", "a", ranges: [("ECOSYSTEM", [("introduced", "1.0.0"), ("fixed", "1.2.0")])])]),
                ("LAST-AFFECTED", [affected("npm", "b", ranges: [("ECOSYSTEM", [("introduced", "1.0.0"), ("last_affected", "1.2.0")])])]),
                ("LIMIT", [affected("npm", "c", ranges: [("ECOSYSTEM", [("introduced", "1.0.0"), ("limit", "1.5.0")])])]),
                ("LIMIT-STAR", [affected("npm", "c2", ranges: [("ECOSYSTEM", [("introduced", "1.0.0"), ("limit", "*")])])]),
                ("VERSIONS-ONLY", [affected("npm", "d", versions: ["1.0.0", "1.0.1"])]),
                ("TWO-RANGES", [affected("npm", "e", ranges: [("ECOSYSTEM", [("introduced", "1.0.0"), ("fixed", "1.0.2")]),
                                                               ("ECOSYSTEM", [("introduced", "3.0.0"), ("fixed", "3.2.5")])])]),
                ("ONE-RANGE-TWO-SPANS", [affected("npm", "e2", ranges: [("ECOSYSTEM", [("introduced", "1.0.0"), ("fixed", "1.0.2"),
                                                                                       ("introduced", "3.0.0"), ("fixed", "3.2.5")])])]),
                ("UNSORTED", [affected("npm", "e3", ranges: [("ECOSYSTEM", [("fixed", "3.2.5"), ("introduced", "3.0.0"),
                                                                            ("fixed", "1.0.2"), ("introduced", "1.0.0")])])]),
                ("INTRODUCED-ZERO", [affected("npm", "f", ranges: [("ECOSYSTEM", [("introduced", "0"), ("fixed", "2.0.0")])])]),
                ("UNFIXED", [affected("npm", "f2", ranges: [("ECOSYSTEM", [("introduced", "0")])])]),
                ("SEMVER", [affected("npm", "g", ranges: [("SEMVER", [("introduced", "2.0.0"), ("fixed", "2.4.0")])])]),
                ("GIT-ONLY", [affected("npm", "h", ranges: [("GIT", [("introduced", String(repeating: "a", count: 40))])])]),
                ("WITHDRAWN", [affected("npm", "a", ranges: [("ECOSYSTEM", [("introduced", "0")])])]),
            ]
            for (id, entries) in records {
                try write(osv(id, withdrawn: id == "WITHDRAWN" ? "2024-05-01T00:00:00Z" : nil, affected: entries), to: "\(scratch)/in/\(id).json")
            }
            let summary = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: false)
            #expect(summary.advisories == records.count && summary.files == records.count && summary.skipped.isEmpty)
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))

            let expectations: [(String, String, [String: String?])] = [
                ("a", "0.9.0", [:]), ("a", "1.0.0", ["INTRO-FIXED": "1.2.0"]), ("a", "1.1.9", ["INTRO-FIXED": "1.2.0"]),
                ("a", "1.2.0", [:]), ("a", "1.3.0", [:]),
                ("b", "0.9.0", [:]), ("b", "1.2.0", ["LAST-AFFECTED": nil]), ("b", "1.2.1", [:]),
                ("c", "0.9.0", [:]), ("c", "1.4.0", ["LIMIT": nil]), ("c", "1.5.0", [:]), ("c", "2.0.0", [:]),
                ("c2", "9.0.0", ["LIMIT-STAR": nil]),
                ("d", "1.0.1", ["VERSIONS-ONLY": nil]), ("d", "1.0.2", [:]), ("d", "1.0", [:]),
                ("e", "1.0.1", ["TWO-RANGES": "1.0.2"]), ("e", "2.0.0", [:]), ("e", "3.1.0", ["TWO-RANGES": "3.2.5"]), ("e", "3.2.5", [:]),
                ("e2", "1.0.1", ["ONE-RANGE-TWO-SPANS": "1.0.2"]), ("e2", "2.0.0", [:]), ("e2", "3.1.0", ["ONE-RANGE-TWO-SPANS": "3.2.5"]),
                ("e2", "3.2.5", [:]),
                ("e3", "1.0.1", ["UNSORTED": "1.0.2"]), ("e3", "2.0.0", [:]), ("e3", "3.1.0", ["UNSORTED": "3.2.5"]), ("e3", "4.0.0", [:]),
                ("f", "0.0.1", ["INTRODUCED-ZERO": "2.0.0"]), ("f", "2.0.0", [:]),
                ("f2", "0.0.1", ["UNFIXED": nil]), ("f2", "9.9.9", ["UNFIXED": nil]),
                ("g", "1.9.0", [:]), ("g", "2.3.0", ["SEMVER": "2.4.0"]), ("g", "2.4.0", [:]),
                ("h", "1.0.0", [:]),
            ]
            for (package, version, expected) in expectations {
                let found = try database.matches(ecosystem: Ecosystem(name: "npm"), package: package, version: version)
                #expect(Dictionary(uniqueKeysWithValues: found.map { ($0.advisory.id, $0.fixedVersion) }) == expected, "\(package) \(version)")
            }
            #expect(try database.info().withdrawn == 1)
        }
    }

    /// Vectors that need the real orderings (SemVer's numeric parts and prereleases,
    /// a SEMVER range inside an ecosystem of another scheme).
    @Test(.enabled(if: realVersionOrder)) func evaluationInRealOrder() throws {
        try withScratch { scratch in
            try write(osv("NUMERIC", affected: [affected("npm", "n", ranges: [("ECOSYSTEM", [("introduced", "1.2.0"), ("fixed", "1.10.0")])])]),
                      to: "\(scratch)/in/a.json")
            // A SEMVER range is ordered by SemVer whatever the ecosystem: 1.0.0-rc.1 is
            // below 1.0.0 there, above it in dpkg's order (revision "rc.1").
            try write(osv("SEMVER-IN-DEBIAN", affected: [affected("Debian", "s", ranges: [("SEMVER", [("introduced", "0"), ("fixed", "1.0.0")])])]),
                      to: "\(scratch)/in/b.json")
            try write(osv("ECOSYSTEM-IN-DEBIAN", affected: [affected("Debian", "t", ranges: [("ECOSYSTEM", [("introduced", "0"), ("fixed", "1.0.0")])])]),
                      to: "\(scratch)/in/c.json")
            _ = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: false)
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "n", version: "1.9.0").map(\.fixedVersion) == ["1.10.0"])
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "n", version: "1.10.0").isEmpty)
            #expect(try database.matches(ecosystem: Ecosystem(name: "Debian"), package: "s", version: "1.0.0-rc.1").map(\.advisory.id) == ["SEMVER-IN-DEBIAN"])
            #expect(try database.matches(ecosystem: Ecosystem(name: "Debian"), package: "t", version: "1.0.0-rc.1").isEmpty)
            // Not a SemVer version: in no range (though `introduced: 0`), only in versions[].
            try write(osv("LISTED", affected: [affected("npm", "u", ranges: [("ECOSYSTEM", [("introduced", "0")])], versions: ["nightly"])]),
                      to: "\(scratch)/in2/d.json")
            _ = try AdvisoryImport.run(paths: ["\(scratch)/in2"], directory: scratch, skipInvalid: false)
            let again = try #require(try AdvisoryDatabase.open(directory: scratch))
            #expect(try again.matches(ecosystem: Ecosystem(name: "npm"), package: "u", version: "latest").isEmpty)
            #expect(try again.matches(ecosystem: Ecosystem(name: "npm"), package: "u", version: "nightly").map(\.advisory.id) == ["LISTED"])
            #expect(try again.matches(ecosystem: Ecosystem(name: "npm"), package: "u", version: "0.0.1").map(\.advisory.id) == ["LISTED"])
        }
    }

    /// `Debian:12` also matches release-less `Debian` records, never another release's;
    /// an advisory with entries in both is one match with the lower fix.
    @Test func releasesAndReleaseLessRecords() throws {
        try withScratch { scratch in
            let range = { (fixed: String) in [("ECOSYSTEM", [("introduced", "0"), ("fixed", fixed)])] }
            try write(osv("REL-12", affected: [affected("Debian:12", "zlib", ranges: range("1.2-1"))]), to: "\(scratch)/in/1.json")
            try write(osv("REL-NONE", affected: [affected("Debian", "zlib", ranges: range("1.3-1"))]), to: "\(scratch)/in/2.json")
            try write(osv("REL-11", affected: [affected("Debian:11", "zlib", ranges: range("1.1-1"))]), to: "\(scratch)/in/3.json")
            try write(osv("REL-BOTH", affected: [affected("Debian:12", "zlib", ranges: range("1.4-1")), affected("Debian", "zlib", ranges: range("1.5-1"))]),
                      to: "\(scratch)/in/4.json")
            _ = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: false)
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            let twelve = try database.matches(ecosystem: Ecosystem(osv: "Debian:12"), package: "zlib", version: "1.0-1")
            #expect(twelve.map(\.advisory.id) == ["REL-12", "REL-BOTH", "REL-NONE"])
            #expect(twelve.map(\.fixedVersion) == ["1.2-1", "1.4-1", "1.3-1"])
            let plain = try database.matches(ecosystem: Ecosystem(name: "Debian"), package: "zlib", version: "1.0-1")
            #expect(plain.map(\.advisory.id) == ["REL-BOTH", "REL-NONE"])
            #expect(plain.map(\.fixedVersion) == ["1.5-1", "1.3-1"])
            // Fixed in Debian:12's entry, still affected by the release-less one.
            #expect(try database.matches(ecosystem: Ecosystem(osv: "Debian:12"), package: "zlib", version: "1.4-1").map { "\($0.advisory.id) \($0.fixedVersion ?? "-")" }
                == ["REL-BOTH 1.5-1"])
            #expect(try database.matches(ecosystem: Ecosystem(osv: "Debian:13"), package: "zlib", version: "1.0-1").map(\.advisory.id) == ["REL-BOTH", "REL-NONE"])
            #expect(try database.matches(ecosystem: Ecosystem(osv: "Ubuntu:22.04:LTS"), package: "zlib", version: "1.0-1").isEmpty)
        }
    }

    /// PyPI names compare as PEP 503 normalises them, on both sides; other ecosystems' exactly.
    @Test func pypiNamesAreNormalised() throws {
        try withScratch { scratch in
            let range = [("ECOSYSTEM", [("introduced", "0"), ("fixed", "2.0.0")])]
            try write(osv("PY-1", affected: [affected("PyPI", "Foo_Bar.baz", ranges: range)]), to: "\(scratch)/in/1.json")
            try write(osv("NPM-1", affected: [affected("npm", "Foo_Bar", ranges: range)]), to: "\(scratch)/in/2.json")
            _ = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: false)
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            for name in ["foo-bar-baz", "FOO.BAR_baz", "foo__bar--baz", "Foo_Bar.baz"] {
                #expect(try database.matches(ecosystem: Ecosystem(name: "PyPI"), package: name, version: "1.0").map(\.advisory.id) == ["PY-1"], "\(name)")
            }
            #expect(try database.matches(ecosystem: Ecosystem(name: "PyPI"), package: "foobar-baz", version: "1.0").isEmpty)
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "Foo_Bar", version: "1.0.0").map(\.advisory.id) == ["NPM-1"])
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "foo-bar", version: "1.0.0").isEmpty)
        }
    }

    /// Severity: a CVSS v3 vector (the entry's own before the advisory's), else a rating.
    @Test func severities() throws {
        try withScratch { scratch in
            let range = [("ECOSYSTEM", [("introduced", "0")])]
            try write(osv("CVSS-TOP", affected: [affected("npm", "p", ranges: range)],
                          extra: ["severity": [["type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]]]), to: "\(scratch)/in/1.json")
            var own = affected("npm", "q", ranges: range)
            own["severity"] = [["type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"]]
            try write(osv("CVSS-ENTRY", affected: [own, affected("npm", "p", ranges: range)],
                          extra: ["severity": [["type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]]]), to: "\(scratch)/in/2.json")
            try write(osv("GHSA-RATING", affected: [affected("npm", "p", ranges: range)], extra: ["database_specific": ["severity": "MODERATE"]]),
                      to: "\(scratch)/in/3.json")
            var urgent = affected("Debian:12", "r", ranges: range)
            urgent["ecosystem_specific"] = ["urgency": "high"]
            try write(osv("DEBIAN-URGENCY", affected: [urgent]), to: "\(scratch)/in/4.json")
            try write(osv("NOTHING", affected: [affected("npm", "p", ranges: range)], extra: ["database_specific": ["severity": ["odd": 1]]]),
                      to: "\(scratch)/in/5.json")
            _ = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: false)
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            let p = try database.matches(ecosystem: Ecosystem(name: "npm"), package: "p", version: "1.0.0")
            #expect(p.map { "\($0.advisory.id) \($0.advisory.severity) \($0.advisory.score.map { "\($0)" } ?? "-")" }
                == ["CVSS-ENTRY CRITICAL 9.8", "CVSS-TOP CRITICAL 9.8", "GHSA-RATING MEDIUM -", "NOTHING UNKNOWN -"])
            let q = try #require(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "q", version: "1.0.0").first)
            #expect(q.advisory.severity == .medium && q.advisory.score == 5.3 && q.advisory.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L")
            #expect(try database.matches(ecosystem: Ecosystem(osv: "Debian:12"), package: "r", version: "1").first?.advisory.severity == .high)
        }
    }

    // MARK: - Real advisories

    /// Records written from real advisories (Tests/Fixtures/scan/osv/README.md): the right
    /// answers just below, at and above each fix.
    @Test func realAdvisories() throws {
        try withScratch { scratch in
            let summary = try AdvisoryImport.run(paths: [Self.fixtures], directory: scratch, skipInvalid: false)
            #expect(summary.files == 7 && summary.advisories == 7 && summary.skipped.isEmpty && summary.unsupported.isEmpty)
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            func ids(_ ecosystem: String, _ package: String, _ version: String) throws -> [String] {
                try database.matches(ecosystem: Ecosystem(osv: ecosystem), package: package, version: version)
                    .map { "\($0.advisory.id)@\($0.fixedVersion ?? "-")" }
            }
            // glibc, CVE-2023-4911 (Looney Tunables): fixed in bookworm's 2.36-9+deb12u3.
            #expect(try ids("Debian:12", "glibc", "2.36-9+deb12u2") == ["DEBIAN-CVE-2023-4911@2.36-9+deb12u3", "DSA-5514-1@2.36-9+deb12u3"])
            #expect(try ids("Debian:12", "glibc", "2.36-9") == ["DEBIAN-CVE-2023-4911@2.36-9+deb12u3", "DSA-5514-1@2.36-9+deb12u3"])
            #expect(try ids("Debian:12", "glibc", "2.36-9+deb12u3") == [])
            #expect(try ids("Debian:12", "glibc", "2.36-9+deb12u4") == [])
            #expect(try ids("Debian:11", "glibc", "2.31-13+deb11u6") == ["DSA-5514-1@2.31-13+deb11u7"])
            #expect(try ids("Debian:11", "glibc", "2.31-13+deb11u7") == [])
            // xz, CVE-2024-3094: Alpine's record, and Debian's for trixie, whose list names
            // 5.6.0 and 5.6.1 (the range's order needs dpkg's rules, checked below).
            #expect(try ids("Alpine:v3.20", "xz", "5.6.1-r1") == ["ALPINE-CVE-2024-3094@5.6.1-r2"])
            #expect(try ids("Alpine:v3.20", "xz", "5.6.1-r2") == [])
            #expect(try ids("Alpine:v3.20", "xz", "5.6.1-r3") == [])
            #expect(try ids("Alpine:v3.19", "xz", "5.6.1-r1") == [])
            #expect(try ids("Debian:13", "xz-utils", "5.6.1-1").map { $0.hasPrefix("DEBIAN-CVE-2024-3094@") } == [true])
            #expect(try ids("Debian:13", "xz-utils", "5.6.1+really5.4.5-1") == [])
            #expect(try ids("Debian:12", "xz-utils", "5.4.1-0.2") == [])
            if Self.realVersionOrder {
                #expect(try ids("Debian:13", "xz-utils", "5.6.1-1") == ["DEBIAN-CVE-2024-3094@5.6.1+really5.4.5-1"])
                #expect(try ids("Debian:13", "xz-utils", "5.6.0-0.2") == ["DEBIAN-CVE-2024-3094@5.6.1+really5.4.5-1"])
                #expect(try ids("Debian:13", "xz-utils", "5.6.1+really5.4.5-2") == [])
            }
            // GitHub's: requests (PyPI) from 2.3.0 to 2.31.0, semver (npm) in three branches.
            #expect(try ids("PyPI", "requests", "2.30.0") == ["GHSA-j8r2-6x86-q33q@2.31.0"])
            #expect(try ids("PyPI", "Requests", "2.30.0") == ["GHSA-j8r2-6x86-q33q@2.31.0"])
            #expect(try ids("PyPI", "requests", "2.31.0") == [])
            #expect(try ids("PyPI", "requests", "2.32.0") == [])
            #expect(try ids("PyPI", "requests", "2.2.0") == [])
            #expect(try ids("npm", "semver", "7.5.1") == ["GHSA-c2qf-rxjj-qqgw@7.5.2"])
            #expect(try ids("npm", "semver", "7.5.2") == [])
            #expect(try ids("npm", "semver", "7.6.0") == [])
            #expect(try ids("npm", "semver", "6.3.0") == ["GHSA-c2qf-rxjj-qqgw@6.3.1"])
            #expect(try ids("npm", "semver", "6.3.1") == [])
            #expect(try ids("npm", "semver", "5.7.1") == ["GHSA-c2qf-rxjj-qqgw@5.7.2"])

            let requests = try #require(try database.matches(ecosystem: Ecosystem(name: "PyPI"), package: "requests", version: "2.30.0").first?.advisory)
            #expect(requests == Advisory(
                id: "GHSA-j8r2-6x86-q33q", aliases: ["CVE-2023-32681", "PYSEC-2023-74"],
                summary: "Unintended leak of Proxy-Authorization header in requests", severity: .medium, score: 6.1,
                vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", published: "2023-05-22T20:36:32Z", modified: "2024-11-19T16:44:07Z",
                references: ["https://nvd.nist.gov/vuln/detail/CVE-2023-32681",
                             "https://github.com/psf/requests/commit/74ea7cf7a6a27a4eeb2ae24e162bcc942a6706d5", "https://github.com/psf/requests"]))
            let semver = try #require(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "semver", version: "7.5.1").first?.advisory)
            #expect(semver.severity == .medium && semver.score == 5.3)
            // Debian's "not yet assigned" urgency is no rating.
            #expect(try database.matches(ecosystem: Ecosystem(osv: "Debian:12"), package: "glibc", version: "2.36-9").first?.advisory.severity == .unknown)

            let info = try database.info()
            #expect(info.advisories == 7 && info.withdrawn == 0 && info.version == database.version)
            #expect(info.ecosystems == ["Debian:11": 1, "Debian:12": 2, "Debian:13": 2, "Alpine:v3.20": 1, "PyPI": 1, "npm": 3])
            #expect(info.affectedEntries == 10)
            #expect(info.sources.map(\.path) == [Self.fixtures] && info.sources.first?.advisories == 7)
            #expect(info.bytes > 0 && info.updated.hasSuffix("Z"))
        }
    }

    // MARK: - Import

    /// A directory and OSV's zip form (made by python's zipfile), together in one database.
    @Test func importsDirectoriesAndZips() throws {
        try withScratch { scratch in
            let range = [("ECOSYSTEM", [("introduced", "0"), ("fixed", "2.0.0")])]
            try write(osv("DIR-1", affected: [affected("npm", "x", ranges: range)]), to: "\(scratch)/in/nested/deeper/DIR-1.json")
            try write(Data("not OSV, not read".utf8), to: "\(scratch)/in/notes.txt")
            let members = scratch + "/members"
            for id in ["ZIP-1", "ZIP-2", "ZIP-3"] {
                try write(osv(id, affected: [affected("PyPI", "y", ranges: range), affected("Maven", "org.example:z", ranges: range)]),
                          to: "\(members)/\(id).json")
            }
            try PythonTUF.run(script: """
                import sys, zipfile, os
                with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as archive:
                    for name in sorted(os.listdir(sys.argv[2])):
                        archive.write(os.path.join(sys.argv[2], name), name)
                    archive.writestr("README", "not json")
                """, args: ["\(scratch)/all.zip", members])
            let summary = try AdvisoryImport.run(paths: ["\(scratch)/in", "\(scratch)/all.zip"], directory: scratch, skipInvalid: false)
            #expect(summary.advisories == 4 && summary.files == 4 && summary.unsupported == ["Maven": 3])
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "x", version: "1.0.0").map(\.advisory.id) == ["DIR-1"])
            #expect(try database.matches(ecosystem: Ecosystem(name: "PyPI"), package: "y", version: "1.0.0").map(\.advisory.id) == ["ZIP-1", "ZIP-2", "ZIP-3"])
            #expect(try database.matches(ecosystem: Ecosystem(name: "Maven"), package: "org.example:z", version: "1.0.0").isEmpty)
            #expect(try database.info().sources.map(\.path).sorted() == ["\(scratch)/all.zip", "\(scratch)/in"])
            #expect(try temporaryFiles(scratch).isEmpty)
        }
    }

    /// A newer `modified` replaces a record; the same or an older one leaves it. Every
    /// import makes a new version, and only the current version's file is kept.
    @Test func reimportReplacesByModified() throws {
        try withScratch { scratch in
            func importRecord(fixed: String, modified: String) throws -> ImportSummary {
                try? FileManager.default.removeItem(atPath: "\(scratch)/in")
                try write(osv("R-1", modified: modified, affected: [affected("npm", "r", ranges: [("ECOSYSTEM", [("introduced", "0"), ("fixed", fixed)])])]),
                          to: "\(scratch)/in/R-1.json")
                return try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: false)
            }
            func fix() throws -> String? {
                try AdvisoryDatabase.open(directory: scratch)?.matches(ecosystem: Ecosystem(name: "npm"), package: "r", version: "1.0.0").first?.fixedVersion
            }
            #expect(AdvisoryDatabase.currentVersion(directory: scratch) == nil)
            #expect(try AdvisoryDatabase.open(directory: scratch) == nil)
            let first = try importRecord(fixed: "1.2.0", modified: "2024-02-01T00:00:00Z")
            #expect(first.advisories == 1 && AdvisoryDatabase.currentVersion(directory: scratch) == first.version)
            #expect(try fix() == "1.2.0")
            // Half a second later, in a fraction: newer.
            let second = try importRecord(fixed: "1.3.0", modified: "2024-02-01T00:00:00.5Z")
            #expect(second.advisories == 1 && second.unchanged == 0 && second.version != first.version)
            #expect(try fix() == "1.3.0")
            // An hour earlier, written in another time zone: older, left out.
            let third = try importRecord(fixed: "1.1.0", modified: "2024-02-01T00:30:00+01:00")
            #expect(third.advisories == 0 && third.unchanged == 1)
            #expect(try fix() == "1.3.0")
            let info = try #require(try AdvisoryDatabase.open(directory: scratch)).info()
            #expect(info.advisories == 1 && info.affectedEntries == 1 && info.version == third.version)
            let files = try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/db").sorted()
            #expect(files == ["\(third.version).sqlite", "current", "lock"])
        }
    }

    /// Each bad file stops the import with its path and what is wrong; nothing of the
    /// import is kept and the previous database still answers, at the same version.
    @Test func malformedFilesImportNothing() throws {
        try withScratch { scratch in
            let good = osv("GOOD-1", affected: [affected("npm", "g", ranges: [("ECOSYSTEM", [("introduced", "0")])])])
            try write(good, to: "\(scratch)/base/GOOD-1.json")
            let before = try AdvisoryImport.run(paths: ["\(scratch)/base"], directory: scratch, skipInvalid: false)
            let event = { (events: [[String: String]]) in
                self.osv("BAD", affected: [["package": ["ecosystem": "npm", "name": "b"], "ranges": [["type": "ECOSYSTEM", "events": events]]]])
            }
            let cases: [(String, Data, String)] = [
                ("bad-json", Data("{\"id\": \"X\", ".utf8), "not JSON"),
                ("no-id", try JSONSerialization.data(withJSONObject: ["modified": "2024-01-01T00:00:00Z"]), "id: missing"),
                ("no-modified", try JSONSerialization.data(withJSONObject: ["id": "X"]), "modified: missing"),
                ("bad-modified", try JSONSerialization.data(withJSONObject: ["id": "X", "modified": "yesterday"]), "modified: \"yesterday\" is not an RFC 3339 time"),
                ("id-number", try JSONSerialization.data(withJSONObject: ["id": 12, "modified": "2024-01-01T00:00:00Z"]), "id: expected a string"),
                ("two-kinds", event([["introduced": "0", "fixed": "1.0"]]),
                 "affected[0].ranges[0].events[0]: has "),
                ("no-kind", event([["introduced": "0"], ["fixd": "1.0"]]), "affected[0].ranges[0].events[1]: none of introduced, fixed, last_affected, limit"),
                ("no-introduced", event([["fixed": "1.0"]]), "affected[0].ranges[0]: no introduced event"),
                ("event-number", event([["introduced": "0"]]).replacing(Data("\"0\"".utf8), with: Data("0".utf8)), "affected[0].ranges[0].events[0].introduced: expected a string"),
                ("range-type", osv("BAD", affected: [["package": ["ecosystem": "npm", "name": "b"], "ranges": [["type": "RANGE", "events": [["introduced": "0"]]]]]]),
                 "affected[0].ranges[0]: type \"RANGE\" is not a range type (expected ECOSYSTEM, SEMVER or GIT)"),
                ("unknown-ecosystem", osv("BAD", affected: [affected("Debain:12", "b", ranges: [("ECOSYSTEM", [("introduced", "0")])])]),
                 "affected[0].package.ecosystem: \"Debain:12\" is not an ecosystem OSV defines"),
                ("bad-cvss", osv("BAD", affected: [], extra: ["severity": [["type": "CVSS_V3", "score": "CVSS:3.1/AV:N"]]]),
                 "severity[0].score: CVSS vector \"CVSS:3.1/AV:N\": base metrics AC, PR, UI, S, C, I, A missing"),
            ]
            for (name, bytes, reason) in cases {
                let directory = "\(scratch)/bad-\(name)"
                try write(good, to: "\(directory)/a-good.json")
                try write(bytes, to: "\(directory)/b-\(name).json")
                let error = thrown { _ = try AdvisoryImport.run(paths: [directory], directory: scratch, skipInvalid: false) }
                guard case .invalid(let line) = error else {
                    Issue.record("\(name): \(String(describing: error))")
                    continue
                }
                #expect(line.hasPrefix("\(directory)/b-\(name).json: ") && line.contains(reason) && !line.contains("\n"), "\(line)")
                #expect(AdvisoryDatabase.currentVersion(directory: scratch) == before.version)
                #expect(try temporaryFiles(scratch).isEmpty)
            }
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            #expect(database.version == before.version)
            #expect(try database.info().advisories == 1)
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "g", version: "1.0.0").map(\.advisory.id) == ["GOOD-1"])
        }
    }

    /// `--skip-invalid`: the good files are imported, the bad ones named in the summary.
    @Test func skipInvalidImportsTheRest() throws {
        try withScratch { scratch in
            let range = [("ECOSYSTEM", [("introduced", "0")])]
            try write(osv("OK-1", affected: [affected("npm", "k", ranges: range)]), to: "\(scratch)/in/a.json")
            try write(Data("[1, 2".utf8), to: "\(scratch)/in/b.json")
            try write(osv("OK-2", affected: [affected("npm", "k", ranges: range)]), to: "\(scratch)/in/c.json")
            try write(osv("BAD-2", affected: [affected("Nope", "k", ranges: range)]), to: "\(scratch)/in/d.json")
            let summary = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: true)
            #expect(summary.advisories == 2 && summary.files == 4)
            #expect(summary.skipped.count == 2)
            #expect(summary.skipped.first?.hasPrefix("\(scratch)/in/b.json: not JSON") == true)
            #expect(summary.skipped.last == "\(scratch)/in/d.json: affected[0].package.ecosystem: \"Nope\" is not an ecosystem OSV defines (Debian, Alpine, PyPI, npm, Go, …)")
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "k", version: "1.0.0").map(\.advisory.id) == ["OK-1", "OK-2"])
        }
    }

    /// A file over 16 MiB is not read: refused, or skipped with `--skip-invalid`.
    @Test func oversizedFilesAreRefused() throws {
        try withScratch { scratch in
            try write(osv("OK-1", affected: [affected("npm", "k", ranges: [("ECOSYSTEM", [("introduced", "0")])])]), to: "\(scratch)/in/a.json")
            var big = Data("{\"id\": \"BIG\", \"modified\": \"2024-01-01T00:00:00Z\", \"details\": \"".utf8)
            big.append(Data(repeating: UInt8(ascii: "x"), count: 16 << 20))
            big.append(Data("\"}".utf8))
            try write(big, to: "\(scratch)/in/big.json")
            #expect(throws: ScanError.invalid("\(scratch)/in/big.json: \(big.count) bytes, more than the 16 MiB an OSV file may have")) {
                _ = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: false)
            }
            #expect(AdvisoryDatabase.currentVersion(directory: scratch) == nil)
            let summary = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: true)
            #expect(summary.advisories == 1 && summary.skipped == ["\(scratch)/in/big.json: \(big.count) bytes, more than the 16 MiB an OSV file may have"])
        }
    }

    /// A file that cannot be read (a link to nowhere) or a zip broken midway stops the
    /// import even with `--skip-invalid`: the old database stays in use, nothing is left.
    @Test func interruptedImportsLeaveTheOldDatabase() throws {
        try withScratch { scratch in
            let range = [("ECOSYSTEM", [("introduced", "0")])]
            try write(osv("OLD-1", affected: [affected("npm", "o", ranges: range)]), to: "\(scratch)/base/OLD-1.json")
            let before = try AdvisoryImport.run(paths: ["\(scratch)/base"], directory: scratch, skipInvalid: false)

            try write(osv("NEW-1", affected: [affected("npm", "o", ranges: range)]), to: "\(scratch)/in/a.json")
            try FileManager.default.createSymbolicLink(atPath: "\(scratch)/in/b.json", withDestinationPath: "\(scratch)/nowhere.json")
            try write(osv("NEW-2", affected: [affected("npm", "o", ranges: range)]), to: "\(scratch)/in/c.json")
            for skipInvalid in [false, true] {
                #expect(throws: ScanError.storage("\(scratch)/in/b.json: No such file or directory")) {
                    _ = try AdvisoryImport.run(paths: ["\(scratch)/in"], directory: scratch, skipInvalid: skipInvalid)
                }
            }

            // A zip of 40 records cut in the middle of its data.
            let members = scratch + "/members"
            for index in 0..<40 {
                try write(osv("ZIP-\(index)", affected: [affected("npm", "o", ranges: range)], extra: ["details": String(repeating: "\(index) ", count: 200)]),
                          to: "\(members)/ZIP-\(index).json")
            }
            try PythonTUF.run(script: """
                import sys, zipfile, os
                with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as archive:
                    for name in sorted(os.listdir(sys.argv[2])):
                        archive.write(os.path.join(sys.argv[2], name), name)
                data = open(sys.argv[1], "rb").read()
                open(sys.argv[1], "wb").write(data[:len(data) // 2])
                """, args: ["\(scratch)/cut.zip", members])
            let error = thrown { _ = try AdvisoryImport.run(paths: ["\(scratch)/cut.zip"], directory: scratch, skipInvalid: true) }
            guard case .storage(let line) = error else {
                Issue.record("cut.zip: \(String(describing: error))")
                return
            }
            #expect(line.hasPrefix("\(scratch)/cut.zip: "), "\(line)")

            #expect(AdvisoryDatabase.currentVersion(directory: scratch) == before.version)
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            #expect(try database.matches(ecosystem: Ecosystem(name: "npm"), package: "o", version: "1.0.0").map(\.advisory.id) == ["OLD-1"])
            #expect(try temporaryFiles(scratch).isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/db").sorted() == ["\(before.version).sqlite", "current", "lock"])
        }
    }

    /// A database opened before an import keeps answering from its version.
    @Test func openDatabaseOutlivesAnImport() throws {
        try withScratch { scratch in
            let range = [("ECOSYSTEM", [("introduced", "0")])]
            try write(osv("V1", affected: [affected("npm", "v", ranges: range)]), to: "\(scratch)/a/V1.json")
            try write(osv("V2", affected: [affected("npm", "v", ranges: range)]), to: "\(scratch)/b/V2.json")
            _ = try AdvisoryImport.run(paths: ["\(scratch)/a"], directory: scratch, skipInvalid: false)
            let old = try #require(try AdvisoryDatabase.open(directory: scratch))
            let summary = try AdvisoryImport.run(paths: ["\(scratch)/b"], directory: scratch, skipInvalid: false)
            #expect(try old.matches(ecosystem: Ecosystem(name: "npm"), package: "v", version: "1.0.0").map(\.advisory.id) == ["V1"])
            let new = try #require(try AdvisoryDatabase.open(directory: scratch))
            #expect(new.version == summary.version)
            #expect(try new.matches(ecosystem: Ecosystem(name: "npm"), package: "v", version: "1.0.0").map(\.advisory.id) == ["V1", "V2"])
        }
    }

    // MARK: - Helpers

    func withScratch(_ body: (String) throws -> Void) throws {
        let path = NSTemporaryDirectory() + uniqueName("netctl-scandb-")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    func write(_ data: Data, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    func thrown(_ body: () throws -> Void) -> ScanError? {
        do {
            try body()
            return nil
        } catch {
            return error as? ScanError
        }
    }

    func temporaryFiles(_ scratch: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/db").filter { $0.hasPrefix(".") }
    }

    func osv(_ id: String, modified: String = "2024-01-01T00:00:00Z", withdrawn: String? = nil,
             affected: [[String: Any]], extra: [String: Any] = [:]) -> Data {
        var record: [String: Any] = ["id": id, "modified": modified, "affected": affected]
        if let withdrawn { record["withdrawn"] = withdrawn }
        record.merge(extra) { $1 }
        return try! JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
    }

    func affected(_ ecosystem: String, _ name: String, ranges: [(String, [(String, String)])] = [], versions: [String]? = nil) -> [String: Any] {
        var entry: [String: Any] = ["package": ["ecosystem": ecosystem, "name": name]]
        if !ranges.isEmpty {
            entry["ranges"] = ranges.map { type, events in
                ["type": type, "events": events.map { [$0.0: $0.1] }] as [String: Any]
            }
        }
        if let versions { entry["versions"] = versions }
        return entry
    }
}

/// The issue's figures on a generated database (`NETCTL_SCAN_DB_BENCH=N` advisories, e.g.
/// 200000): import time, then opening it and 1,000 matches. Off by default; the
/// benchmarks' own run (Benchmarks/) measures the release build.
@Suite struct ScanDatabaseFigures {
    static let count = ProcessInfo.processInfo.environment["NETCTL_SCAN_DB_BENCH"].flatMap { Int($0) }

    @Test(.enabled(if: count != nil)) func importAndMatch() throws {
        let count = Self.count!
        let scratch = NSTemporaryDirectory() + uniqueName("netctl-scandb-bench-")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // OSV's all.zip shape: a member per record, 1–3 affected packages of the scanned
        // ecosystems, introduced/fixed ranges, a CVSS vector on a third of them.
        try PythonTUF.run(script: Self.generator, args: ["\(scratch)/all.zip", "\(count)"])
        let clock = ContinuousClock()
        var summary: ImportSummary?
        let importTime = try clock.measure {
            summary = try AdvisoryImport.run(paths: ["\(scratch)/all.zip"], directory: scratch, skipInvalid: false)
        }
        #expect(summary?.advisories == count)
        var found = 0
        let scanTime = try clock.measure {
            let database = try #require(try AdvisoryDatabase.open(directory: scratch))
            for index in 0..<1000 {
                let (ecosystem, name, version) = Self.query(index)
                found += try database.matches(ecosystem: ecosystem, package: name, version: version).count
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let size = (try FileManager.default.attributesOfItem(atPath: "\(scratch)/db/\(summary!.version).sqlite")[.size] as? Int) ?? 0
        print("scan db figures: \(count) advisories imported in \(importTime), database \(size / 1_000_000) MB; open + 1000 matches in \(scanTime) (\(found) findings); peak RSS of the test process \(usage.ru_maxrss / 1024) MB")
    }

    static func query(_ index: Int) -> (Ecosystem, String, String) {
        switch index % 4 {
        case 0: (Ecosystem(osv: "Debian:12"), "pkg\(index * 37 % 5000)", "1.\(index % 9)-1")
        case 1: (Ecosystem(osv: "Alpine:v3.19"), "pkg\(index * 37 % 5000)", "1.\(index % 9)-r0")
        case 2: (Ecosystem(name: "PyPI"), "Pkg_\(index * 37 % 5000)", "1.\(index % 9).0")
        default: (Ecosystem(name: "npm"), "pkg\(index * 37 % 5000)", "1.\(index % 9).0")
        }
    }

    static let generator = """
        import sys, zipfile, json, random
        random.seed(16)
        path, count = sys.argv[1], int(sys.argv[2])
        ecosystems = [("Debian:12", "-1"), ("Debian", "-1"), ("Alpine:v3.19", "-r0"), ("PyPI", ".0"), ("npm", ".0"), ("Go", ".0")]
        vectors = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for n in range(count):
                affected = []
                for _ in range(random.randint(1, 3)):
                    ecosystem, suffix = random.choice(ecosystems)
                    name = "pkg%d" % random.randrange(5000)
                    if ecosystem == "Go": name = "example.com/" + name
                    low, high = sorted(random.sample(range(10), 2))
                    affected.append({"package": {"ecosystem": ecosystem, "name": name},
                                     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.%d%s" % (low, suffix)}, {"fixed": "1.%d%s" % (high, suffix)}]}],
                                     "versions": ["1.%d%s" % (v, suffix) for v in range(low, high)],
                                     "ecosystem_specific": {"urgency": "low"}})
                record = {"schema_version": "1.6.0", "id": "GEN-%07d" % n, "modified": "2024-01-01T00:00:00Z", "published": "2023-06-01T00:00:00Z",
                          "aliases": ["CVE-2024-%05d" % n], "summary": "Generated advisory %d for the import benchmark" % n,
                          "details": "Details " * 40, "affected": affected,
                          "references": [{"type": "ADVISORY", "url": "https://example.com/advisories/%d" % n}, {"type": "WEB", "url": "https://example.com/fix/%d" % n}]}
                if n % 3 == 0: record["severity"] = [{"type": "CVSS_V3", "score": vectors[n % len(vectors)]}]
                archive.writestr("GEN-%07d.json" % n, json.dumps(record, indent=2))
        """
}
