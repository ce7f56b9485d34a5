import Foundation
import Testing
import TestSupport

/// `netctl scan` and `run --scan-policy` end to end, as a user runs them: an image of
/// busybox with a Debian package database, a Python and an npm package in its layers,
/// scanned against OSV records written from real advisories.
@Suite struct ScanTests {
    /// Layer 1: Debian 12's glibc before CVE-2023-4911's fix, xz-utils 5.4.1, requests
    /// 2.25.0 and lodash 4.17.20. Layer 2: xz-utils upgraded to the backdoored 5.6.0, and
    /// requests removed (a whiteout).
    static let layers: [[CraftedImages.Entry]] = [
        [
            .file("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"),
            .file("var/lib/dpkg/status", dpkgStatus(xz: "5.4.1-0.2")),
            .file("usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: requests\nVersion: 2.25.0\n"),
            .file("app/node_modules/lodash/package.json", #"{"name": "lodash", "version": "4.17.20"}"#),
        ],
        [
            .file("var/lib/dpkg/status", dpkgStatus(xz: "5.6.0-0.1")),
            .file("usr/lib/python3/dist-packages/.wh.requests-2.25.0.dist-info", ""),
        ],
    ]

    static func dpkgStatus(xz: String) -> String {
        let packages = [
            ("libc6", "glibc", "2.36-9+deb12u1"), ("libc-bin", "glibc", "2.36-9+deb12u1"),
            ("liblzma5", "xz-utils", xz), ("zlib1g", "zlib", "1:1.2.13.dfsg-1"),
        ]
        return packages.map { name, source, version in
            "Package: \(name)\nStatus: install ok installed\nArchitecture: amd64\nSource: \(source)\nVersion: \(version)\nDescription: \(name)\n"
        }.joined(separator: "\n")
    }

    /// OSV records written from the real advisories (ranges as Debian's tracker and GitHub
    /// publish them; severities from NVD's CVSS v3.1 vectors).
    static let advisories: [String: String] = [
        "DEBIAN-CVE-2023-4911.json": """
        {"schema_version": "1.6.0", "id": "DEBIAN-CVE-2023-4911", "aliases": ["CVE-2023-4911"], "modified": "2024-09-03T04:57:30Z",
         "published": "2023-10-03T18:15:10Z", "summary": "buffer overflow in ld.so's GLIBC_TUNABLES (Looney Tunables)",
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
         "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}]}]}],
         "references": [{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/CVE-2023-4911"}]}
        """,
        "DEBIAN-CVE-2024-3094.json": """
        {"id": "DEBIAN-CVE-2024-3094", "aliases": ["CVE-2024-3094"], "modified": "2024-04-01T00:00:00Z",
         "summary": "malicious code in the xz 5.6.0 and 5.6.1 tarballs",
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
         "affected": [{"package": {"ecosystem": "Debian", "name": "xz-utils"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "5.5.1alpha-0.1"}, {"fixed": "5.6.1+really5.4.5-1"}]}]}]}
        """,
        "GHSA-j8r2-6x86-q33q.json": """
        {"id": "GHSA-j8r2-6x86-q33q", "aliases": ["CVE-2023-32681"], "modified": "2023-11-08T04:12:38Z",
         "summary": "Unintended leak of Proxy-Authorization header in requests",
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"}],
         "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.3.0"}, {"fixed": "2.31.0"}]}]}]}
        """,
        "GHSA-35jh-r3h4-6jhm.json": """
        {"id": "GHSA-35jh-r3h4-6jhm", "aliases": ["CVE-2021-23337"], "modified": "2024-02-16T08:12:09Z",
         "summary": "Command Injection in lodash",
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],
         "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                       "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]}
        """,
        "GHSA-xvch-5gv4-984h.json": """
        {"id": "GHSA-xvch-5gv4-984h", "aliases": ["CVE-2021-44906"], "modified": "2024-01-31T00:00:00Z",
         "summary": "Prototype Pollution in minimist",
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
         "affected": [{"package": {"ecosystem": "npm", "name": "minimist"},
                       "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.6"}]}]}]}
        """,
        // Withdrawn: never reported.
        "DEBIAN-CVE-2022-37434.json": """
        {"id": "DEBIAN-CVE-2022-37434", "modified": "2023-01-01T00:00:00Z", "withdrawn": "2023-01-02T00:00:00Z",
         "affected": [{"package": {"ecosystem": "Debian:12", "name": "zlib"},
                       "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}
        """,
    ]

    /// The image imported as `vulnerable`, the advisories imported, and the layers' diff IDs.
    static func prepare(_ netctl: NetctlHarness) throws -> [String] {
        let layout = netctl.root + "-layout"
        defer { try? FileManager.default.removeItem(atPath: layout) }
        try CraftedImages.layout(at: layout, base: [try TestImages.busyboxLayer()], layers: layers)
        try netctl.ok("image", "import", "--name", "vulnerable", layout)
        try importAdvisories(netctl, advisories)
        let inspect = try JSONSerialization.jsonObject(with: Data(try netctl.ok("image", "inspect", "vulnerable").utf8)) as! [[String: Any]]
        return (inspect[0]["RootFS"] as! [String: [String]])["Layers"]!
    }

    static func importAdvisories(_ netctl: NetctlHarness, _ records: [String: String]) throws {
        let directory = netctl.root + "-osv"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, text) in records { try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8) }
        try netctl.ok("scan", "db", "import", directory)
    }

    /// (id, package, installed, fixed, severity, layer) of each finding in `scan --format json`.
    static func findings(_ json: String) throws -> Set<[String]> {
        let report = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return Set((report["findings"] as! [[String: Any]]).map { finding in
            let package = finding["package"] as! [String: Any]
            let advisory = finding["advisory"] as! [String: Any]
            return [advisory["id"] as! String, package["name"] as! String, package["version"] as! String,
                    finding["fixedVersion"] as? String ?? "-", advisory["severity"] as! String, package["layer"] as? String ?? "-"]
        })
    }

    @Test func scanReportsWhatTheLayersHold() throws {
        try withNetctl { netctl in
            let diffIDs = try Self.prepare(netctl)
            let base = diffIDs[0], first = diffIDs[1], second = diffIDs[2]
            _ = base
            // glibc's binary packages each carry the source's advisory; xz 5.6.0 came with
            // the second layer; requests was removed by it; zlib's advisory was withdrawn.
            #expect(try Self.findings(netctl.ok("scan", "vulnerable", "--format", "json")) == [
                ["DEBIAN-CVE-2024-3094", "liblzma5", "5.6.0-0.1", "5.6.1+really5.4.5-1", "CRITICAL", second],
                ["DEBIAN-CVE-2023-4911", "libc6", "2.36-9+deb12u1", "2.36-9+deb12u3", "HIGH", first],
                ["DEBIAN-CVE-2023-4911", "libc-bin", "2.36-9+deb12u1", "2.36-9+deb12u3", "HIGH", first],
                ["GHSA-35jh-r3h4-6jhm", "lodash", "4.17.20", "4.17.21", "HIGH", first],
            ])
            let table = try netctl.ok("scan", "vulnerable")
            #expect(table.contains("CVE-2024-3094") && table.contains("CRITICAL") && !table.contains("requests"))
            // Packages, with the one a later layer removed left out.
            let packages = try JSONSerialization.jsonObject(with: Data(try netctl.ok("scan", "--list-packages", "--format", "json", "vulnerable").utf8))
            let names = Set(((packages as! [String: Any])["packages"] as! [[String: Any]]).map { $0["name"] as! String })
            #expect(names == ["libc6", "libc-bin", "liblzma5", "zlib1g", "lodash"])
            // SARIF and CycloneDX are JSON with a result / a vulnerability per finding (the
            // schemas are checked in ScanReportTests).
            let sarif = try JSONSerialization.jsonObject(with: Data(try netctl.ok("scan", "vulnerable", "--format", "sarif").utf8)) as! [String: Any]
            #expect(((sarif["runs"] as! [[String: Any]])[0]["results"] as! [Any]).count == 4)
            let bom = try JSONSerialization.jsonObject(with: Data(try netctl.ok("scan", "vulnerable", "--format", "cyclonedx").utf8)) as! [String: Any]
            #expect(bom["bomFormat"] as? String == "CycloneDX" && (bom["vulnerabilities"] as! [Any]).count >= 3)
        }
    }

    @Test func filtersIgnoreFileAndExitCode() throws {
        try withNetctl { netctl in
            _ = try Self.prepare(netctl)
            let critical = try Self.findings(netctl.ok("scan", "vulnerable", "--format", "json", "--severity", "CRITICAL"))
            #expect(critical.map { $0[0] } == ["DEBIAN-CVE-2024-3094"])
            let ignore = netctl.root + "-ignore"
            defer { try? FileManager.default.removeItem(atPath: ignore) }
            // By alias, until a date to come; an expired entry ignores nothing.
            try "# accepted until the rebuild\nCVE-2023-4911 exp:2999-01-01\nGHSA-35jh-r3h4-6jhm exp:2020-01-01\n".write(toFile: ignore, atomically: true, encoding: .utf8)
            let kept = try Self.findings(netctl.ok("scan", "vulnerable", "--format", "json", "--ignore-file", ignore))
            #expect(Set(kept.map { $0[0] }) == ["DEBIAN-CVE-2024-3094", "GHSA-35jh-r3h4-6jhm"])
            let expired = try netctl.netctl("scan", "vulnerable", "--ignore-file", ignore)
            #expect(expired.stderr == "warning: \(ignore):3: GHSA-35jh-r3h4-6jhm expired on 2020-01-01 and is reported again\n", "\(expired.stderr)")
            // --exit-code for pipelines: the code when something remains, 0 when nothing does.
            #expect(try netctl.netctl("scan", "vulnerable", "--exit-code", "3").status == 3)
            #expect(try netctl.netctl("scan", "vulnerable", "--exit-code", "3", "--severity", "LOW").status == 0)
            let bad = try netctl.netctl("scan", "vulnerable", "--severity", "HIGH,SEVERE")
            #expect(bad.status != 0 && bad.stderr.contains("\"SEVERE\" is not a severity"))
        }
    }

    @Test func runScanPolicyRefusesAVulnerableImage() throws {
        try withNetctl { netctl in
            _ = try Self.prepare(netctl)
            let refused = try netctl.netctl("run", "--rm", "--scan-policy", "critical", "vulnerable", "true")
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("image vulnerable:latest (") && refused.stderr.contains(") refused by the scan policy (CRITICAL and above): 1 vulnerability: DEBIAN-CVE-2024-3094 (CRITICAL) in liblzma5 5.6.0-0.1, fixed in 5.6.1+really5.4.5-1"),
                    "\(refused.stderr)")
            #expect(try netctl.ok("ps", "-aq").isEmpty)
            // The result is cached per image and database: the second check reads the cache.
            let cache = netctl.root + "/scan/cache"
            #expect(try FileManager.default.contentsOfDirectory(atPath: cache).count == 1)
            let again = try netctl.netctl("run", "--rm", "--scan-policy", "critical", "vulnerable", "true")
            #expect(again.status != 0 && again.stderr.contains("refused by the scan policy (CRITICAL and above): 1 vulnerability: DEBIAN-CVE-2024-3094"), "\(again.stderr)")
            // Below the worst finding's severity it does not run; with nothing that bad it does.
            let busybox = try netctl.importBusybox()
            #expect(try netctl.ok("run", "--rm", "--scan-policy", "low", busybox, "echo", "clean") == "clean\n")
            // A config.json of other settings (a fraction netctl's reader takes no part in) stops nothing.
            try #"{"default-shm-size-ratio": 1.5}"#.write(toFile: netctl.root + "/config.json", atomically: true, encoding: .utf8)
            #expect(try netctl.ok("run", "--rm", busybox, "echo", "clean") == "clean\n")
            // The state root's policy applies without the flag; the flag cannot loosen it.
            try #"{"scan-policy": {"severity": "high", "ignore-unfixed": true}}"#.write(toFile: netctl.root + "/config.json", atomically: true, encoding: .utf8)
            let byConfig = try netctl.netctl("run", "--rm", "vulnerable", "true")
            #expect(byConfig.status != 0 && byConfig.stderr.contains("4 vulnerabilities"), "\(byConfig.stderr)")
            #expect(try netctl.netctl("run", "--rm", "--scan-policy", "critical", "vulnerable", "true").stderr.contains("(HIGH and above)"))
            // A new import is a new database: the cached result no longer applies.
            try Self.importAdvisories(netctl, ["GHSA-xvch-5gv4-984h.json": Self.advisories["GHSA-xvch-5gv4-984h.json"]!])
            let afterImport = try netctl.netctl("run", "--rm", "vulnerable", "true")
            #expect(afterImport.status != 0 && afterImport.stderr.contains("refused by the scan policy (HIGH and above): 4 vulnerabilities"), "\(afterImport.stderr)")
            // An import drops the results of older databases; the refusal above made a new one.
            #expect(try FileManager.default.contentsOfDirectory(atPath: cache).count == 1)
            #expect(try netctl.ok("ps", "-aq").isEmpty)
            // A cache that cannot be written does not let the image through.
            try FileManager.default.removeItem(atPath: cache)
            try "not a directory".write(toFile: cache, atomically: true, encoding: .utf8)
            let uncached = try netctl.netctl("run", "--rm", "vulnerable", "true")
            #expect(uncached.status != 0 && uncached.stderr.contains("refused by the scan policy (HIGH and above)"), "\(uncached.stderr)")
            try FileManager.default.removeItem(atPath: cache)
            #expect(try netctl.ok("ps", "-aq").isEmpty)
            let bad = try netctl.netctl("run", "--rm", "--scan-policy", "severe", busybox, "true")
            #expect(bad.status != 0 && bad.stderr.contains("--scan-policy \"severe\": expected low, medium, high or critical"))
        }
    }

    @Test func aContainerIsScannedWithWhatItChanged() throws {
        try withNetctl { netctl in
            _ = try Self.prepare(netctl)
            let id = try netctl.ok("run", "-d", "--name", "app", "vulnerable", "sleep", "60").trimmingCharacters(in: .whitespacesAndNewlines)
            defer { _ = try? netctl.netctl("rm", "-f", id) }
            try netctl.ok("exec", "app", "sh", "-c", #"mkdir -p /app/node_modules/minimist && echo '{"name":"minimist","version":"1.2.5"}' > /app/node_modules/minimist/package.json"#)
            let found = try Self.findings(netctl.ok("scan", "app", "--format", "json"))
            #expect(found.contains(["GHSA-xvch-5gv4-984h", "minimist", "1.2.5", "1.2.6", "CRITICAL", "container"]))
            #expect(found.count == 5)
        }
    }

    @Test func badInputIsOneLineAndChangesNothing() throws {
        try withNetctl { netctl in
            let busybox = try netctl.importBusybox()
            let none = try netctl.netctl("scan", busybox)
            #expect(none.status != 0 && none.stderr.contains("no advisory database") && none.stderr.contains("netctl scan db import"))
            try Self.importAdvisories(netctl, ["GHSA-35jh-r3h4-6jhm.json": Self.advisories["GHSA-35jh-r3h4-6jhm.json"]!])
            let before = try netctl.ok("scan", "db", "info", "--format", "json")
            let directory = netctl.root + "-bad-osv"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try Self.advisories["GHSA-xvch-5gv4-984h.json"]!.write(toFile: directory + "/good.json", atomically: true, encoding: .utf8)
            try #"{"id": "BAD-1", "modified": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "Debain", "name": "x"}}]}"#
                .write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
            let refused = try netctl.netctl("scan", "db", "import", directory)
            #expect(refused.status != 0 && refused.stderr.contains("bad.json") && refused.stderr.contains("Debain"), "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1)
            #expect(try netctl.ok("scan", "db", "info", "--format", "json") == before)
            // A state root that does not exist yet is made, as by any other command.
            let fresh = netctl.root + "/fresh/state"
            #expect(try netctl.ok("scan", "db", "import", "--root", fresh, directory + "/good.json").hasPrefix("Imported 1 advisories"))
            #expect(try netctl.ok("scan", "db", "info", "--root", fresh, "--format", "json").contains("\"advisories\" : 1"))
            try FileManager.default.removeItem(atPath: netctl.root + "/fresh")
            // --skip-invalid imports the rest and names what it skipped.
            let skipped = try netctl.ok("scan", "db", "import", "--skip-invalid", directory)
            #expect(skipped.contains("skipped") && skipped.contains("bad.json"))
            // A bad scan-policy in config.json: one line naming the value, and no container.
            for (config, message) in [
                (#"{"scan-policy": "hgih"}"#, #"config.json: scan-policy "hgih": expected a severity"#),
                (#"{"scan-policy": {"severity": "high", "ignore-unfxied": true}}"#, #"scan-policy "ignore-unfxied": not a member"#),
                (#"{"scan-policy": {"severity": 3}}"#, "scan-policy.severity 3: expected low, medium, high or critical"),
                (#"{"scan-policy": {"severity": "low", "ignore-unfixed": "yes"}}"#, #"scan-policy.ignore-unfixed "yes": expected true or false"#),
            ] {
                try config.write(toFile: netctl.root + "/config.json", atomically: true, encoding: .utf8)
                let result = try netctl.netctl("run", "--rm", busybox, "true")
                #expect(result.status != 0 && result.stderr.contains(message), "\(config): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                #expect(try netctl.ok("ps", "-aq").isEmpty)
            }
            try FileManager.default.removeItem(atPath: netctl.root + "/config.json")
            for (arguments, message) in [
                (["scan", "no-such-image"], "no-such-image"),
                (["scan", busybox, "--format", "xml"], "--format \"xml\": expected table, json, sarif or cyclonedx"),
                (["scan", "--list-packages", busybox, "--format", "sarif"], "expected table, json or cyclonedx with --list-packages"),
                (["scan", busybox, "--ignore-file", "/nonexistent/ignore"], "/nonexistent/ignore"),
            ] {
                let result = try netctl.netctl(arguments)
                #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
            }
        }
    }
}
