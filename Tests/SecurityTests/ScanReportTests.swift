import Foundation
import Security
import Testing
import TestSupport

/// The scan reports against their specifications' own oracles: SARIF against the OASIS
/// schema (python jsonschema), CycloneDX against cyclonedx-python-lib's strict validator,
/// purls against the purl-spec test suite and packageurl-python; the table, the filter
/// and the ignore file against exact expected outcomes.
@Suite struct ScanReportTests {
    // MARK: - A scan, built here

    static let layerBase = "sha256:" + String(repeating: "3f4ca61aafcd", count: 5) + "0123"
    static let layerApp = "sha256:" + String(repeating: "9b2e7c10d4aa", count: 5) + "4567"
    static let debian = OSRelease(id: "debian", versionID: "12", prettyName: "Debian GNU/Linux 12 (bookworm)")

    static let libc6 = InstalledPackage(kind: .dpkg, name: "libc6", version: "2.36-9+deb12u1", sourceName: "glibc", architecture: "amd64",
                                        location: "var/lib/dpkg/status", layer: layerBase)
    static let libcBin = InstalledPackage(kind: .dpkg, name: "libc-bin", version: "2.36-9+deb12u1", sourceName: "glibc", architecture: "amd64",
                                          location: "var/lib/dpkg/status", layer: layerBase)
    static let liblzma = InstalledPackage(kind: .dpkg, name: "liblzma5", version: "5.6.0-0.2", sourceName: "xz-utils", architecture: "amd64",
                                          location: "var/lib/dpkg/status", layer: layerBase)
    static let zlib = InstalledPackage(kind: .dpkg, name: "zlib1g", version: "1:1.2.13.dfsg-1", sourceName: "zlib", architecture: "amd64",
                                       location: "var/lib/dpkg/status", layer: layerBase)
    static let requests = InstalledPackage(kind: .python, name: "requests", version: "2.25.0",
                                           location: "usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA", layer: layerApp)
    static let stdlib = InstalledPackage(kind: .go, name: "stdlib", version: "1.19.8", location: "usr/bin/umoci", layer: layerApp)
    static let angular = InstalledPackage(kind: .npm, name: "@angular/core", version: "12.3.1",
                                          location: "srv/app/node_modules/@angular/core/package.json", layer: layerApp)

    static let looneyTunables = Advisory(
        id: "CVE-2023-4911", aliases: ["DSA-5514-1"], summary: "Buffer overflow in the GNU C library's dynamic loader",
        severity: .high, score: 7.8, vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
        published: "2023-10-03T18:15:00Z", modified: "2024-01-10T12:00:00Z",
        references: ["https://security-tracker.debian.org/tracker/CVE-2023-4911",
                     "https://www.qualys.com/2023/10/03/cve-2023-4911/looney-tunables-local-privilege-escalation-glibc-ld-so.txt"])
    static let getaddrinfo = Advisory(
        id: "CVE-2023-4806", summary: "glibc: potential use-after-free in getaddrinfo()", severity: .medium, score: 5.9,
        vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", modified: "2024-01-10T12:00:00Z")
    static let glob = Advisory(id: "CVE-2010-4756", summary: "glob() allows exhausting CPU and memory", severity: .low, modified: "2023-05-01T00:00:00Z")
    static let xzBackdoor = Advisory(
        id: "CVE-2024-3094", summary: "Malicious code in xz 5.6.0 and 5.6.1", severity: .critical, score: 10.0,
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", published: "2024-03-29T17:15:21Z", modified: "2024-04-02T00:00:00Z",
        references: ["https://www.openwall.com/lists/oss-security/2024/03/29/4"])
    static let requestsLeak = Advisory(
        id: "GHSA-j8r2-6x86-q33q", aliases: ["CVE-2023-32681", "PYSEC-2023-74"], summary: "Unintended leak of Proxy-Authorization header in requests",
        severity: .medium, score: 6.1, vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", modified: "2023-06-01T00:00:00Z",
        references: ["https://github.com/psf/requests/security/advisories/GHSA-j8r2-6x86-q33q"])
    static let goVerify = Advisory(id: "GO-2023-1705", aliases: ["CVE-2023-24537"], summary: "Infinite loop in go/scanner", modified: "2023-04-05T00:00:00Z")

    static var findings: [Finding] {
        [
            Finding(package: libc6, advisory: glob, fixedVersion: nil, ecosystem: "Debian:12"),
            Finding(package: libc6, advisory: looneyTunables, fixedVersion: "2.36-9+deb12u3", ecosystem: "Debian:12"),
            Finding(package: requests, advisory: requestsLeak, fixedVersion: "2.31.0", ecosystem: "PyPI"),
            Finding(package: libcBin, advisory: looneyTunables, fixedVersion: "2.36-9+deb12u3", ecosystem: "Debian:12"),
            Finding(package: stdlib, advisory: goVerify, fixedVersion: "1.19.9", ecosystem: "Go"),
            Finding(package: liblzma, advisory: xzBackdoor, fixedVersion: "5.6.1+really5.4.5-1", ecosystem: "Debian:12"),
            Finding(package: libc6, advisory: getaddrinfo, fixedVersion: "2.36-9+deb12u3", ecosystem: "Debian:12"),
        ]
    }

    static var inventory: Inventory {
        Inventory(os: debian, packages: [libc6, libcBin, liblzma, zlib, requests, stdlib, angular],
                  skipped: ["var/lib/dpkg/status: entry 12 (\"libfoo\"): no Version field"])
    }

    static let ignoreText = """
        # requests is only used against our own registry, which sends no proxy headers.
        CVE-2023-32681 exp:2099-01-01
        CVE-2019-0001 exp:2001-01-01 # long gone
        """

    /// The scan with the ignore file applied, on a fixed day.
    static func report() throws -> ScanReport {
        let ignore = try IgnoreFile(parsing: ignoreText, path: ".trivyignore")
        let filter = FindingFilter(ignoreFile: ignore, today: CalendarDay(year: 2026, month: 12, day: 2)!)
        return filter.apply(to: ScanReport(target: "registry.example/app:1.4", imageID: "sha256:" + String(repeating: "ab", count: 32),
                                           os: debian, findings: findings, inventory: inventory,
                                           databaseVersion: "20261201T080000Z-4f2a", databaseUpdated: "2026-12-01T08:00:00Z"))
    }

    // MARK: - Oracles

    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let schemas = package.appendingPathComponent("Tests/Fixtures/scan/schemas")

    /// Runs `script` with the venv's python (`make deps` builds .build-venv with jsonschema
    /// and cyclonedx-python-lib); `sys.argv[1]` is a file holding `input`.
    static func python(_ script: String, input: String = "") throws -> String {
        let python = package.appendingPathComponent(".build-venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw HarnessError("no venv at \(python); run `make deps` (it installs jsonschema and cyclonedx-python-lib)")
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/input"
        try input.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runCommand([python, "-c", script, file], environment: ["PYTHONDONTWRITEBYTECODE": "1"])
        guard result.status == 0 else { throw HarnessError("python failed (exit \(result.status)): \(result.stderr.suffix(2000))") }
        return result.stdout
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + uniqueName("netctl-report-")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func object(_ json: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    /// Every error python jsonschema finds in `document` against the SARIF 2.1.0 schema,
    /// formats checked too; empty when it is valid.
    static func sarifSchemaErrors(_ document: String) throws -> [String] {
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(\(pythonString(schemas.appendingPathComponent("sarif-schema-2.1.0.json").path))))
            document = json.load(open(sys.argv[1]))
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
            for error in validator.iter_errors(document):
                print("/".join(str(p) for p in error.absolute_path) + ": " + error.message)
            """
        return try python(script, input: document).split(separator: "\n").map(String.init)
    }

    /// cyclonedx-python-lib's strict JSON validator for CycloneDX 1.6: nil when valid.
    static func cycloneDXError(_ document: String) throws -> String? {
        let script = """
            import sys
            from cyclonedx.validation.json import JsonStrictValidator
            from cyclonedx.schema import SchemaVersion
            error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
            print("valid" if error is None else "invalid: " + str(error)[:3000])
            """
        let out = try python(script, input: document).trimmingCharacters(in: .whitespacesAndNewlines)
        return out == "valid" ? nil : out
    }

    static func pythonString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

// MARK: - purls

extension ScanReportTests {
    /// Every `build` case of the purl-spec test suite for the six types netctl writes.
    @Test func purlsAgreeWithThePurlSpecTestSuite() throws {
        var checked = 0
        for type in ["deb", "apk", "rpm", "pypi", "npm", "golang"] {
            let data = try Data(contentsOf: Self.schemas.appendingPathComponent("purl-spec/\(type)-test.json"))
            let suite = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for test in try #require(suite["tests"] as? [[String: Any]]) where test["test_type"] as? String == "build" {
                guard test["expected_failure"] as? Bool != true, let input = test["input"] as? [String: Any],
                      let expected = test["expected_output"] as? String else { continue }
                let url = PackageURL(type: input["type"] as! String, namespace: input["namespace"] as? String, name: input["name"] as! String,
                                     version: input["version"] as? String, qualifiers: input["qualifiers"] as? [String: String] ?? [:],
                                     subpath: input["subpath"] as? String)
                #expect(url.description == expected, "\(test["description"] ?? "")")
                checked += 1
            }
        }
        #expect(checked >= 20)
    }

    @Test func purlOfEachKindOfPackage() throws {
        let alpine = OSRelease(id: "alpine", versionID: "3.19.1")
        let rhel = OSRelease(id: "rhel", versionID: "9.3")
        let cases: [(InstalledPackage, OSRelease?, String)] = [
            (Self.libc6, Self.debian, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12"),
            (Self.zlib, Self.debian, "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"),
            (InstalledPackage(kind: .dpkg, name: "dpkg", version: "1.19.0.4", architecture: "amd64", location: "var/lib/dpkg/status"),
             OSRelease(id: "ubuntu"), "pkg:deb/ubuntu/dpkg@1.19.0.4?arch=amd64&distro=ubuntu"),
            (InstalledPackage(kind: .apk, name: "curl", version: "7.83.0-r0", architecture: "x86", location: "lib/apk/db/installed"),
             alpine, "pkg:apk/alpine/curl@7.83.0-r0?arch=x86&distro=alpine-3.19.1"),
            (InstalledPackage(kind: .rpm, name: "centerim", version: "1:4.22.10-1.el6", architecture: "i686", location: "var/lib/rpm/rpmdb.sqlite"),
             rhel, "pkg:rpm/rhel/centerim@4.22.10-1.el6?arch=i686&distro=rhel-9.3&epoch=1"),
            (InstalledPackage(kind: .rpm, name: "NetworkManager", version: "1.44.0-3.el9", location: "var/lib/rpm/rpmdb.sqlite"),
             rhel, "pkg:rpm/rhel/NetworkManager@1.44.0-3.el9?distro=rhel-9.3"),
            (InstalledPackage(kind: .python, name: "Django_package", version: "1.11.1.dev1", location: "x/METADATA"), Self.debian,
             "pkg:pypi/django-package@1.11.1.dev1"),
            (Self.angular, Self.debian, "pkg:npm/%40angular/core@12.3.1"),
            (InstalledPackage(kind: .npm, name: "foobar", version: "12.3.1", location: "x/package.json"), nil, "pkg:npm/foobar@12.3.1"),
            (InstalledPackage(kind: .go, name: "github.com/gorilla/context", version: "v1.1.1", location: "usr/bin/app"), Self.debian,
             "pkg:golang/github.com/gorilla/context@v1.1.1"),
            (InstalledPackage(kind: .go, name: "github.com/Azure/go-autorest", version: "v14.2.0+incompatible", location: "usr/bin/app"), nil,
             "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible"),
            (InstalledPackage(kind: .go, name: "example.com/tool", version: "(devel)", location: "usr/bin/tool"), nil, "pkg:golang/example.com/tool"),
            (Self.stdlib, Self.debian, "pkg:golang/stdlib@1.19.8"),
        ]
        for (package, os, expected) in cases { #expect(package.purl(os: os) == expected) }

        // packageurl-python reads each back into the same parts and writes the same string.
        let script = """
            import json, sys
            from packageurl import PackageURL
            for line in open(sys.argv[1]).read().splitlines():
                p = PackageURL.from_string(line)
                print(json.dumps([p.to_string(), p.type, p.namespace, p.name, p.version, p.qualifiers or {}]))
            """
        let lines = try Self.python(script, input: cases.map(\.2).joined(separator: "\n")).split(separator: "\n")
        #expect(lines.count == cases.count)
        for (line, (package, os, expected)) in zip(lines, cases) {
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])
            let url = package.packageURL(os: os)
            #expect(parsed[0] as? String == expected)
            #expect(parsed[1] as? String == url.type)
            #expect(parsed[2] as? String == url.namespace.map { url.type == "deb" || url.type == "apk" || url.type == "rpm" ? $0.lowercased() : $0 })
            #expect(parsed[3] as? String == (url.type == "pypi" ? url.name.lowercased().replacingOccurrences(of: "_", with: "-") : url.name))
            #expect(parsed[4] as? String == url.version)
            #expect(parsed[5] as? [String: String] == url.qualifiers)
        }
    }
}

extension ScanReportTests {
    /// This machine's own dpkg database: every installed package's purl reads back in
    /// packageurl-python as the same name, version and qualifiers, and the SBOM of them
    /// all validates.
    @Test func hostPackagesThroughPackageURLAndCycloneDX() throws {
        let status = try String(contentsOfFile: "/var/lib/dpkg/status", encoding: .utf8)
        var packages: [InstalledPackage] = []
        for stanza in status.components(separatedBy: "\n\n") {
            var fields: [String: String] = [:]
            for line in stanza.split(separator: "\n") where !line.hasPrefix(" ") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            guard let name = fields["Package"], let version = fields["Version"], fields["Status"] == "install ok installed" else { continue }
            packages.append(InstalledPackage(kind: .dpkg, name: name, version: version, architecture: fields["Architecture"],
                                             location: "var/lib/dpkg/status"))
        }
        #expect(packages.count > 50)
        let script = """
            import json, sys
            from packageurl import PackageURL
            for line in open(sys.argv[1]).read().splitlines():
                p = PackageURL.from_string(line)
                print(json.dumps([p.name, p.version, p.qualifiers or {}, p.to_string() == line]))
            """
        let purls = packages.map { $0.purl(os: Self.debian) }
        let lines = try Self.python(script, input: purls.joined(separator: "\n")).split(separator: "\n")
        #expect(lines.count == packages.count)
        for (line, package) in zip(lines, packages) {
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])
            #expect(parsed[0] as? String == package.name.lowercased())
            #expect(parsed[1] as? String == package.version)
            var qualifiers = ["distro": "debian-12"]
            qualifiers["arch"] = package.architecture
            #expect(parsed[2] as? [String: String] == qualifiers)
            #expect(parsed[3] as? Bool == true, "\(package.name) \(package.version)")
        }
        let report = ScanReport(target: "host", os: Self.debian, findings: [], inventory: Inventory(os: Self.debian, packages: packages),
                                databaseVersion: "1")
        #expect(try Self.cycloneDXError(ReportWriter.renderPackages(report, format: .cyclonedx)) == nil)
        for line in ReportWriter.renderPackages(report, format: .table).split(separator: "\n") { #expect(line.count <= 100) }
    }
}

// MARK: - SARIF

extension ScanReportTests {
    @Test func sarifValidatesAgainstTheSARIFSchema() throws {
        let sarif = ReportWriter.render(try Self.report(), format: .sarif)
        #expect(try Self.sarifSchemaErrors(sarif) == [])
        // The oracle can fail: a level SARIF does not define is caught.
        let broken = sarif.replacingOccurrences(of: "\"level\" : \"note\"", with: "\"level\" : \"info\"")
        #expect(broken != sarif)
        #expect(try Self.sarifSchemaErrors(broken).contains { $0.contains("'info' is not one of") })
    }

    @Test func sarifRulesAndResults() throws {
        let log = try Self.object(ReportWriter.render(try Self.report(), format: .sarif))
        #expect(log["version"] as? String == "2.1.0")
        let run = try #require((log["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        #expect(driver["name"] as? String == "netctl")
        #expect(driver["version"] as? String == ReportTool.netctl.version)
        #expect(driver["informationUri"] == nil)

        // One rule per advisory, sorted by id; the ignored advisory too (its result is suppressed).
        let rules = try #require(driver["rules"] as? [[String: Any]])
        #expect(rules.map { $0["id"] as? String } == ["CVE-2010-4756", "CVE-2023-4806", "CVE-2023-4911", "CVE-2024-3094", "GHSA-j8r2-6x86-q33q", "GO-2023-1705"])
        let looney = try #require(rules.first { $0["id"] as? String == "CVE-2023-4911" })
        #expect((looney["shortDescription"] as? [String: Any])?["text"] as? String == "CVE-2023-4911: Buffer overflow in the GNU C library's dynamic loader")
        #expect(looney["helpUri"] as? String == "https://security-tracker.debian.org/tracker/CVE-2023-4911")
        let properties = try #require(looney["properties"] as? [String: Any])
        #expect(properties["security-severity"] as? String == "7.8")
        #expect(properties["tags"] as? [String] == ["security", "vulnerability", "HIGH"])
        let go = try #require(rules.first { $0["id"] as? String == "GO-2023-1705" })
        #expect(go["helpUri"] as? String == "https://osv.dev/vulnerability/GO-2023-1705")
        #expect((go["properties"] as? [String: Any])?["security-severity"] == nil)
        let glob = try #require(rules.first { $0["id"] as? String == "CVE-2010-4756" })
        #expect((glob["properties"] as? [String: Any])?["security-severity"] as? String == "2.0")

        // One result per finding, worst first; the ignored one last, suppressed with its reason.
        let results = try #require(run["results"] as? [[String: Any]])
        #expect(results.map { "\($0["ruleId"]!) \($0["level"]!) \($0["ruleIndex"]!)" } == [
            "CVE-2024-3094 error 3", "CVE-2023-4911 error 2", "CVE-2023-4911 error 2", "CVE-2023-4806 warning 1",
            "CVE-2010-4756 note 0", "GO-2023-1705 note 5", "GHSA-j8r2-6x86-q33q warning 4",
        ])
        #expect((results[1]["message"] as? [String: Any])?["text"] as? String
                == "libc-bin 2.36-9+deb12u1 is affected by CVE-2023-4911 (HIGH 7.8); fixed in 2.36-9+deb12u3.")
        #expect((results[4]["message"] as? [String: Any])?["text"] as? String
                == "libc6 2.36-9+deb12u1 is affected by CVE-2010-4756 (LOW); no fixed version yet.")
        let physical = try #require(((results[5]["locations"] as? [[String: Any]])?.first)?["physicalLocation"] as? [String: Any])
        let artifact = try #require(physical["artifactLocation"] as? [String: Any])
        #expect(artifact["uri"] as? String == "usr/bin/umoci")
        #expect(artifact["uriBaseId"] as? String == "ROOTPATH")
        #expect((results[5]["properties"] as? [String: Any])?["layer"] as? String == Self.layerApp)
        #expect(results[0]["suppressions"] == nil)
        let suppression = try #require((results[6]["suppressions"] as? [[String: Any]])?.first)
        #expect(suppression["kind"] as? String == "external")
        #expect(suppression["status"] as? String == "accepted")
        #expect(suppression["justification"] as? String
                == "ignore file line 2 (CVE-2023-32681, until 2099-01-01): requests is only used against our own registry, which sends no proxy headers.")
    }

    @Test func sarifLocationsAreURIReferences() throws {
        let odd = InstalledPackage(kind: .python, name: "odd", version: "1.0", location: "opt/my app/odd#1:x/METADATA")
        let report = ScanReport(target: "t", findings: [Finding(package: odd, advisory: Self.glob, fixedVersion: nil, ecosystem: "PyPI")],
                                inventory: Inventory(packages: [odd]), databaseVersion: "1")
        let sarif = ReportWriter.render(report, format: .sarif)
        #expect(sarif.contains("\"uri\" : \"opt/my%20app/odd%231%3Ax/METADATA\""))
        #expect(try Self.sarifSchemaErrors(sarif) == [])
    }
}

// MARK: - CycloneDX

extension ScanReportTests {
    @Test func cycloneDXReportAndPackageListValidate() throws {
        let report = try Self.report()
        let bom = ReportWriter.render(report, format: .cyclonedx)
        #expect(try Self.cycloneDXError(bom) == nil)
        let sbom = ReportWriter.renderPackages(report, format: .cyclonedx)
        #expect(try Self.cycloneDXError(sbom) == nil)
        // The oracle can fail: a severity CycloneDX does not define is caught.
        let broken = bom.replacingOccurrences(of: "\"severity\" : \"critical\"", with: "\"severity\" : \"severe\"")
        #expect(broken != bom)
        #expect(try Self.cycloneDXError(broken) != nil)
    }

    @Test func cycloneDXComponentsAndVulnerabilities() throws {
        let bom = try Self.object(ReportWriter.render(try Self.report(), format: .cyclonedx))
        #expect(bom["bomFormat"] as? String == "CycloneDX")
        #expect(bom["specVersion"] as? String == "1.6")
        let metadata = try #require(bom["metadata"] as? [String: Any])
        let target = try #require(metadata["component"] as? [String: Any])
        #expect(target["name"] as? String == "registry.example/app:1.4")
        #expect(target["type"] as? String == "container")

        let components = try #require(bom["components"] as? [[String: Any]])
        let refs = Set(components.compactMap { $0["bom-ref"] as? String })
        #expect(refs.count == components.count)
        #expect(components.first?["type"] as? String == "operating-system")
        let purls = components.compactMap { $0["purl"] as? String }
        #expect(purls == [
            "pkg:npm/%40angular/core@12.3.1",
            "pkg:deb/debian/libc-bin@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12",
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12",
            "pkg:deb/debian/liblzma5@5.6.0-0.2?arch=amd64&distro=debian-12",
            "pkg:pypi/requests@2.25.0",
            "pkg:golang/stdlib@1.19.8",
            "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
        ])

        let vulnerabilities = try #require(bom["vulnerabilities"] as? [[String: Any]])
        #expect(vulnerabilities.map { $0["id"] as? String } == [
            "CVE-2024-3094", "CVE-2023-4911", "CVE-2023-4806", "GHSA-j8r2-6x86-q33q", "CVE-2010-4756", "GO-2023-1705",
        ])
        let looney = vulnerabilities[1]
        #expect((looney["source"] as? [String: Any])?["name"] as? String == "NVD")
        let rating = try #require((looney["ratings"] as? [[String: Any]])?.first)
        #expect(rating["score"] as? Double == 7.8)
        #expect(rating["severity"] as? String == "high")
        #expect(rating["method"] as? String == "CVSSv31")
        #expect(rating["vector"] as? String == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H")
        #expect(looney["recommendation"] as? String == "Upgrade libc-bin to 2.36-9+deb12u3, libc6 to 2.36-9+deb12u3.")
        let affects = try #require(looney["affects"] as? [[String: Any]])
        #expect(affects.compactMap { $0["ref"] as? String } == [
            "pkg:deb/debian/libc-bin@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12",
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12",
        ])
        for affect in vulnerabilities.flatMap({ $0["affects"] as? [[String: Any]] ?? [] }) {
            #expect(refs.contains(affect["ref"] as? String ?? ""))
        }
        #expect(vulnerabilities[4]["recommendation"] as? String == "No fixed version yet for libc6.")
        let unrated = try #require((vulnerabilities[5]["ratings"] as? [[String: Any]])?.first)
        #expect(unrated["severity"] as? String == "unknown")
        #expect(unrated["method"] == nil)
        #expect((vulnerabilities[3]["analysis"] as? [String: Any])?["detail"] as? String
                == "Ignored by the ignore file (line 2, CVE-2023-32681, until 2099-01-01): requests is only used against our own registry, which sends no proxy headers.")
    }

    /// Two copies of one npm package get refs of their own.
    @Test func cycloneDXRefsAreUniqueForCopies() throws {
        let a = InstalledPackage(kind: .npm, name: "lodash", version: "4.17.20", location: "a/node_modules/lodash/package.json")
        let b = InstalledPackage(kind: .npm, name: "lodash", version: "4.17.20", location: "b/node_modules/lodash/package.json")
        let report = ScanReport(target: "t", findings: [], inventory: Inventory(packages: [a, b]), databaseVersion: "1")
        let sbom = ReportWriter.renderPackages(report, format: .cyclonedx)
        let components = try #require(try Self.object(sbom)["components"] as? [[String: Any]])
        #expect(components.compactMap { $0["bom-ref"] as? String } == [
            "pkg:npm/lodash@4.17.20", "pkg:npm/lodash@4.17.20 (b/node_modules/lodash/package.json)",
        ])
        #expect(try Self.cycloneDXError(sbom) == nil)
    }
}

// MARK: - Ignore file and filter

extension ScanReportTests {
    static let today = CalendarDay(year: 2026, month: 12, day: 2)!

    @Test func ignoreFileEntries() throws {
        let text = """
            # Accepted until the base image moves to bookworm's next point release.
            # (tracked in OPS-112)
            CVE-2023-4911 exp:2027-01-01

            CVE-2024-3094    # a reason after the id\r
            GHSA-j8r2-6x86-q33q exp:2026-12-02
            RHSA-2024:0001\texp:2026-12-03 # colons are part of Red Hat ids
            """
        let file = try IgnoreFile(parsing: text, path: "ops/.trivyignore")
        #expect(file.entries == [
            IgnoreFile.Entry(id: "CVE-2023-4911", expires: CalendarDay("2027-01-01"),
                             reason: "Accepted until the base image moves to bookworm's next point release. (tracked in OPS-112)", line: 3),
            IgnoreFile.Entry(id: "CVE-2024-3094", reason: "a reason after the id", line: 5),
            IgnoreFile.Entry(id: "GHSA-j8r2-6x86-q33q", expires: CalendarDay("2026-12-02"), line: 6),
            IgnoreFile.Entry(id: "RHSA-2024:0001", expires: CalendarDay("2026-12-03"), reason: "colons are part of Red Hat ids", line: 7),
        ])
        let looney = Finding(package: Self.libc6, advisory: Self.looneyTunables, fixedVersion: nil, ecosystem: "Debian:12")
        let leak = Finding(package: Self.requests, advisory: Self.requestsLeak, fixedVersion: "2.31.0", ecosystem: "PyPI")
        let glob = Finding(package: Self.libc6, advisory: Self.glob, fixedVersion: nil, ecosystem: "Debian:12")
        // An expiry ignores until that day begins.
        #expect(file.ignores(looney, today: Self.today))
        #expect(file.ignores(looney, today: CalendarDay("2026-12-31")!))
        #expect(!file.ignores(looney, today: CalendarDay("2027-01-01")!))
        #expect(file.ignores(leak, today: CalendarDay("2026-12-01")!))
        #expect(!file.ignores(leak, today: Self.today))
        #expect(!file.ignores(glob, today: Self.today))
        #expect(file.expired(today: Self.today).map(\.id) == ["GHSA-j8r2-6x86-q33q"])

        // By alias, letter case aside.
        let byAlias = try IgnoreFile(parsing: "pysec-2023-74\n", path: "x")
        #expect(byAlias.entry(for: leak, today: Self.today)?.id == "pysec-2023-74")
        #expect(try IgnoreFile(parsing: "# only comments\n\n", path: "x").entries.isEmpty)
    }

    @Test func ignoreFileBadLinesNamePathAndLine() throws {
        let cases: [(String, String)] = [
            ("CVE-1\nCVE-2 because it is fine\n",
             ".trivyignore:2: unexpected \"because\" after CVE-2: expected `ID [exp:YYYY-MM-DD] [# reason]` (a reason goes after #)"),
            ("CVE-1 exp:2024-02-30\n", ".trivyignore:1: exp:2024-02-30: expected an expiry date exp:YYYY-MM-DD"),
            ("CVE-1 exp:01/02/2024\n", ".trivyignore:1: exp:01/02/2024: expected an expiry date exp:YYYY-MM-DD"),
            ("\n\nexp:2024-01-01\n", ".trivyignore:3: \"exp:2024-01-01\" is not an advisory id (letters, digits, - _ . :): expected `ID [exp:YYYY-MM-DD] [# reason]`"),
            ("CVE/2024/1\n", ".trivyignore:1: \"CVE/2024/1\" is not an advisory id (letters, digits, - _ . :): expected `ID [exp:YYYY-MM-DD] [# reason]`"),
            ("CVE-1 exp:2024-01-01 exp:2025-01-01\n", ".trivyignore:1: a second exp:2025-01-01 for CVE-1: expected `ID [exp:YYYY-MM-DD] [# reason]`"),
        ]
        for (text, message) in cases {
            #expect(throws: ScanError.invalid(message)) { try IgnoreFile(parsing: text, path: ".trivyignore") }
        }
    }

    @Test func ignoreFileLoadIsBounded() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/.trivyignore"
        try "\u{FEFF}CVE-2023-4911 # loader\r\nCVE-2024-3094\r\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try IgnoreFile.load(path: path).entries == [
            IgnoreFile.Entry(id: "CVE-2023-4911", reason: "loader", line: 1), IgnoreFile.Entry(id: "CVE-2024-3094", line: 2),
        ])
        // Exactly the limit is read; a byte more is refused.
        let line = "# " + String(repeating: "x", count: 1021) + "\n"
        let fits = String(repeating: line, count: IgnoreFile.sizeLimit / 1024)
        #expect(fits.utf8.count == IgnoreFile.sizeLimit)
        try fits.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try IgnoreFile.load(path: path).entries.isEmpty)
        try (fits + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ScanError.invalid("ignore file \(path): larger than 1 MiB: expected a list of advisory ids")) { try IgnoreFile.load(path: path) }
        #expect(throws: ScanError.invalid("ignore file \(directory): not a regular file")) { try IgnoreFile.load(path: directory) }
        #expect(throws: ScanError.storage("ignore file \(directory)/missing: No such file or directory")) {
            try IgnoreFile.load(path: directory + "/missing")
        }
    }

    @Test func filterBySeverityFixAndIgnoreFile() throws {
        let all = Self.findings
        func ids(_ findings: [Finding]) -> [String] { findings.map { "\($0.package.name) \($0.advisory.id)" } }

        let everything = FindingFilter(today: Self.today).apply(all)
        #expect(ids(everything.kept) == ids(all))
        #expect(everything.ignored.isEmpty)

        let medium = FindingFilter(minimum: .medium, today: Self.today).apply(all)
        #expect(ids(medium.kept) == ["libc6 CVE-2023-4911", "requests GHSA-j8r2-6x86-q33q", "libc-bin CVE-2023-4911",
                                     "liblzma5 CVE-2024-3094", "libc6 CVE-2023-4806"])
        let critical = FindingFilter(minimum: .critical, today: Self.today).apply(all)
        #expect(ids(critical.kept) == ["liblzma5 CVE-2024-3094"])

        let fixed = FindingFilter(ignoreUnfixed: true, today: Self.today).apply(all)
        #expect(ids(fixed.kept) == ids(all).filter { $0 != "libc6 CVE-2010-4756" })

        // The ignore file applies to what severity and fix left: a low finding it names is
        // not "ignored" under --severity medium, it was never reported.
        let ignore = try IgnoreFile(parsing: "CVE-2010-4756\nCVE-2023-32681\n", path: "x")
        let both = FindingFilter(minimum: .medium, ignoreFile: ignore, today: Self.today).apply(all)
        #expect(ids(both.ignored) == ["requests GHSA-j8r2-6x86-q33q"])
        #expect(ids(both.kept) == ["libc6 CVE-2023-4911", "libc-bin CVE-2023-4911", "liblzma5 CVE-2024-3094", "libc6 CVE-2023-4806"])

        let report = try Self.report()
        #expect(ids(report.ignored) == ["requests GHSA-j8r2-6x86-q33q"])
        #expect(report.ignoredBy["GHSA-j8r2-6x86-q33q"]?.id == "CVE-2023-32681")
        #expect(report.findings.count == 6)
        #expect(report.worstSeverity == .critical)
    }

    @Test func calendarDays() {
        #expect(CalendarDay(secondsSinceEpoch: 0).description == "1970-01-01")
        #expect(CalendarDay(secondsSinceEpoch: -1).description == "1969-12-31")
        #expect(CalendarDay(secondsSinceEpoch: 951_782_400).description == "2000-02-29")
        #expect(CalendarDay(secondsSinceEpoch: 1_709_251_199).description == "2024-02-29")
        #expect(CalendarDay(secondsSinceEpoch: 1_709_251_200).description == "2024-03-01")
        #expect(CalendarDay(secondsSinceEpoch: 4_102_444_800).description == "2100-01-01")
        #expect(CalendarDay("2024-02-29") != nil)
        #expect(CalendarDay("2100-02-29") == nil)
        #expect(CalendarDay("2024-2-29") == nil)
        #expect(CalendarDay("2024-04-31") == nil)
        // Today as the system's own clock says.
        let now = Date()
        var components = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now)
        components.nanosecond = 0
        #expect(CalendarDay.today() == CalendarDay(year: components.year!, month: components.month!, day: components.day!))
    }
}

// MARK: - Table and JSON

extension ScanReportTests {
    @Test func tableGroupsByPackageWorstFirst() throws {
        let table = ReportWriter.render(try Self.report(), format: .table)
        #expect(table == """
            Target:   registry.example/app:1.4 (Debian GNU/Linux 12 (bookworm))
            Image:    sha256:abababababab
            Database: 20261201T080000Z-4f2a (updated 2026-12-01T08:00:00Z)

            PACKAGE   INSTALLED       FIXED                SEVERITY  ID             ALIASES         LAYER
            liblzma5  5.6.0-0.2       5.6.1+really5.4.5-1  CRITICAL  CVE-2024-3094                  3f4ca61aafcd
            libc-bin  2.36-9+deb12u1  2.36-9+deb12u3       HIGH      CVE-2023-4911  DSA-5514-1      3f4ca61aafcd
            libc6     2.36-9+deb12u1  2.36-9+deb12u3       HIGH      CVE-2023-4911  DSA-5514-1      3f4ca61aafcd
                                      2.36-9+deb12u3       MEDIUM    CVE-2023-4806
                                      (no fix)             LOW       CVE-2010-4756
            stdlib    1.19.8          1.19.9               UNKNOWN   GO-2023-1705   CVE-2023-24537  9b2e7c10d4aa
              in usr/bin/umoci

            6 vulnerabilities (CRITICAL: 1, HIGH: 2, MEDIUM: 1, LOW: 1, UNKNOWN: 1) in 4 of 7 packages
            1 finding ignored by the ignore file (reasons in --format json):
              GHSA-j8r2-6x86-q33q
            Skipped 1 entry that could not be read:
              var/lib/dpkg/status: entry 12 ("libfoo"): no Version field

            """)
        for line in table.split(separator: "\n") { #expect(line.count <= 100) }
    }

    /// In 80 columns the layer moves under its package, the aliases wrap by alias and the
    /// widest columns wrap at separators; nothing is cut.
    @Test func tableWrapsInANarrowTerminal() throws {
        var report = try Self.report()
        report.findings = FindingFilter(minimum: .medium, today: Self.today).apply(Self.findings).kept
        report.ignored = []
        report.inventory.skipped = []
        let table = ReportWriter.render(report, format: .table, width: 80)
        #expect(table == """
            Target:   registry.example/app:1.4 (Debian GNU/Linux 12 (bookworm))
            Image:    sha256:abababababab
            Database: 20261201T080000Z-4f2a (updated 2026-12-01T08:00:00Z)

            PACKAGE   INSTALLED      FIXED           SEVERITY  ID             ALIASES
            liblzma5  5.6.0-0.2      5.6.1+really5.  CRITICAL  CVE-2024-3094
                                     4.5-1
              layer 3f4ca61aafcd
            libc-bin  2.36-9+        2.36-9+deb12u3  HIGH      CVE-2023-4911  DSA-5514-1
                      deb12u1
              layer 3f4ca61aafcd
            libc6     2.36-9+        2.36-9+deb12u3  HIGH      CVE-2023-4911  DSA-5514-1
                      deb12u1
                                     2.36-9+deb12u3  MEDIUM    CVE-2023-4806
              layer 3f4ca61aafcd
            requests  2.25.0         2.31.0          MEDIUM    GHSA-j8r2-     CVE-2023-32681
                                                               6x86-q33q      PYSEC-2023-74
              in usr/lib/python3/dist-packages/requests-2.25.0.dist-info/
                METADATA, layer 9b2e7c10d4aa

            5 vulnerabilities (CRITICAL: 1, HIGH: 2, MEDIUM: 2, LOW: 0, UNKNOWN: 0) in 4 of 7 packages

            """)
        let rows = table.components(separatedBy: "\n\n")[1]
        for line in rows.split(separator: "\n") { #expect(line.count <= 80) }
    }

    @Test func tableListsIgnoredIDsWrapped() throws {
        let ids = Self.findings.map(\.advisory.id).joined(separator: "\n")
        let filter = FindingFilter(ignoreFile: try IgnoreFile(parsing: ids, path: "x"), today: Self.today)
        let report = filter.apply(to: ScanReport(target: "t", findings: Self.findings, inventory: Inventory(packages: [Self.libc6]), databaseVersion: "1"))
        #expect(report.findings.isEmpty)
        #expect(ReportWriter.render(report, format: .table, width: 50) == """
            Target:   t
            Database: 1

            No vulnerabilities to report in 1 package.
            7 findings ignored by the ignore file (reasons in --format json):
              CVE-2010-4756, CVE-2023-4806, CVE-2023-4911,
              CVE-2024-3094, GHSA-j8r2-6x86-q33q,
              GO-2023-1705

            """)
    }

    @Test func tableWithNothingFound() throws {
        let report = ScanReport(target: "alpine:3.19", os: OSRelease(id: "alpine", versionID: "3.19.1"), findings: [],
                                inventory: Inventory(packages: [Self.zlib]), databaseVersion: "7")
        #expect(ReportWriter.render(report, format: .table) == """
            Target:   alpine:3.19 (alpine 3.19.1)
            Database: 7

            No vulnerabilities to report in 1 package.

            """)
    }

    @Test func packageTable() throws {
        let table = ReportWriter.renderPackages(try Self.report(), format: .table)
        #expect(table == """
            Target:   registry.example/app:1.4 (Debian GNU/Linux 12 (bookworm))
            Image:    sha256:abababababab
            Database: 20261201T080000Z-4f2a (updated 2026-12-01T08:00:00Z)

            NAME           VERSION          TYPE    LOCATION                                        LAYER
            @angular/core  12.3.1           npm     srv/app/node_modules/@angular/core/             9b2e7c10d4aa
                                                    package.json
            libc-bin       2.36-9+deb12u1   dpkg    var/lib/dpkg/status                             3f4ca61aafcd
            libc6          2.36-9+deb12u1   dpkg    var/lib/dpkg/status                             3f4ca61aafcd
            liblzma5       5.6.0-0.2        dpkg    var/lib/dpkg/status                             3f4ca61aafcd
            requests       2.25.0           python  usr/lib/python3/dist-packages/                  9b2e7c10d4aa
                                                    requests-2.25.0.dist-info/METADATA
            stdlib         1.19.8           go      usr/bin/umoci                                   9b2e7c10d4aa
            zlib1g         1:1.2.13.dfsg-1  dpkg    var/lib/dpkg/status                             3f4ca61aafcd

            7 packages (dpkg: 4, python: 1, npm: 1, go: 1)
            Skipped 1 entry that could not be read:
              var/lib/dpkg/status: entry 12 ("libfoo"): no Version field

            """)
    }

    @Test func jsonRoundTripsAndSaysWhy() throws {
        let report = try Self.report()
        let json = ReportWriter.render(report, format: .json)
        #expect(ReportWriter.render(report, format: .json) == json)
        let decoded = try JSONDecoder().decode(ScanReport.self, from: Data(json.utf8))
        #expect(decoded.target == report.target)
        #expect(decoded.imageID == report.imageID)
        #expect(decoded.os == report.os)
        #expect(decoded.findings == report.findings)
        #expect(decoded.ignored == report.ignored)
        #expect(decoded.ignoredBy == report.ignoredBy)
        #expect(decoded.inventory.packages == report.inventory.packages)
        #expect(decoded.inventory.skipped == report.inventory.skipped)
        #expect(decoded.inventory.os == report.inventory.os)
        #expect(decoded.databaseVersion == report.databaseVersion)
        #expect(decoded.databaseUpdated == report.databaseUpdated)
        #expect(ReportWriter.render(decoded, format: .json) == json)
        #expect(json.contains("\"aliases\" : [],"))

        let object = try Self.object(json)
        #expect(object["formatVersion"] as? Int == 1)
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["vulnerabilities"] as? Int == 6)
        #expect(summary["affectedPackages"] as? Int == 4)
        #expect(summary["packages"] as? Int == 7)
        #expect(summary["ignored"] as? Int == 1)
        #expect(summary["severities"] as? [String: Int] == ["CRITICAL": 1, "HIGH": 2, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 1])
        #expect((object["database"] as? [String: Any])?["version"] as? String == "20261201T080000Z-4f2a")
        #expect(object["skipped"] as? [String] == report.inventory.skipped)
        let first = try #require((object["findings"] as? [[String: Any]])?.first)
        #expect((first["advisory"] as? [String: Any])?["severity"] as? String == "LOW")
        #expect((first["package"] as? [String: Any])?["purl"] as? String == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12")
        #expect(first["fixedVersion"] == nil)
        let ignored = try #require((object["ignored"] as? [[String: Any]])?.first)
        let by = try #require(ignored["ignoredBy"] as? [String: Any])
        #expect(by["reason"] as? String == "requests is only used against our own registry, which sends no proxy headers.")
        #expect(by["expires"] as? String == "2099-01-01")
        #expect(by["line"] as? Int == 2)
    }

    @Test func packageListJSONDecodesAsAnInventory() throws {
        let report = try Self.report()
        let json = ReportWriter.renderPackages(report, format: .json)
        let inventory = try JSONDecoder().decode(Inventory.self, from: Data(json.utf8))
        #expect(inventory.packages == report.inventory.packages)
        #expect(inventory.skipped == report.inventory.skipped)
        #expect(inventory.os == Self.debian)
        let packages = try #require(try Self.object(json)["packages"] as? [[String: Any]])
        #expect(packages.compactMap { $0["purl"] as? String }.count == 7)
    }
}
