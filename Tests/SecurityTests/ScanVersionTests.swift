import Foundation
@testable import Security
import Testing
import TestSupport

/// The six version orderings against the programs whose order they copy: dpkg, rpm and
/// pypa/packaging answer for thousands of generated pairs in the same run; apk-tools' and
/// x/mod/semver's own test vectors, and semver.org's examples, stand in where no program
/// is at hand.
@Suite struct ScanVersionTests {
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = package.appendingPathComponent("Tests/Fixtures/versions")
    static let debianVectors = package.deletingLastPathComponent().appendingPathComponent("shared/fixtures/versions/debian-dpkg-vectors.tsv").path

    // MARK: Debian

    @Test(.enabled(if: FileManager.default.fileExists(atPath: debianVectors),
                   "../shared/fixtures/versions/debian-dpkg-vectors.tsv is not beside the checkout"))
    func debianSharedVectors() throws {
        let rows = try String(contentsOfFile: Self.debianVectors, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count > 20)
        for row in rows {
            try #require(row.count >= 4, "bad vector line \(row)")
            let expected = ["<": -1, "=": 0, ">": 1][row[2]]
            #expect(DebianVersion.compare(row[1], row[3]) == expected, "\(row[1]) \(row[2]) \(row[3])")
            #expect(DebianVersion.compare(row[3], row[1]) == expected.map { -$0 }, "\(row[3]) against \(row[1])")
        }
    }

    @Test func debianAgainstDpkg() throws {
        var random = SeededRandom(seed: 0xDEB1A4)
        var pairs = Self.pairs(3000, &random, Self.debianVersion, mutate: Self.debianMutation)
        // Strings dpkg refuses (nil here), and ones it only warns about (compared).
        pairs += [("1.0-", "1.0"), (":1.0", "1.0"), ("a:1.0", "1.0"), ("1:", "1"), ("1 0", "1"), ("-1", "1"),
                  ("1:-1", "1"), ("99999999999:1", "1"), ("-1:1.0", "1.0"), ("a1.0", "1.0"), ("1.0_1", "1.0+1"),
                  ("1.0é", "1.0+"), ("1.0é", "1.0a"), (" 1.0 ", "1.0"), ("+1:2", "1:2"), ("-0:1", "1"),
                  ("2147483647:1", "2147483648:1"), ("1.0-1-", "1"), ("1:2:3", "1:2.3"), ("0001.0", "1.00")]
        let dpkg = try Self.dpkgOrder(pairs)
        print("dpkg: \(Self.tally(dpkg))")
        var disagreements: [String] = []
        for (index, (a, b)) in pairs.enumerated() where DebianVersion.compare(a, b) != dpkg[index] {
            disagreements.append("\(a) vs \(b): ours \(String(describing: DebianVersion.compare(a, b))), dpkg \(String(describing: dpkg[index]))")
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(pairs.count): \(disagreements.prefix(10).joined(separator: "; "))")
        // The generator must reach every answer, or the comparison says little.
        #expect(Set(dpkg) == [-1, 0, 1, nil])
    }

    /// `dpkg --compare-versions` per pair, two shell loops at once: -1/0/1, nil when dpkg
    /// refuses a version (exit 2).
    static func dpkgOrder(_ pairs: [(String, String)]) throws -> [Int?] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netctl-versions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let loop = """
            while IFS="$(printf '\\t')" read -r a b; do
              dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null; r=$?
              if [ $r -eq 0 ]; then echo -1
              elif [ $r -eq 1 ]; then if dpkg --compare-versions -- "$a" eq "$b" 2>/dev/null; then echo 0; else echo 1; fi
              else echo nil; fi
            done < "$1"
            """
        let half = (pairs.count + 1) / 2
        let chunks = [Array(pairs[..<half]), Array(pairs[half...])]
        var commands: [[String]] = []
        for (index, chunk) in chunks.enumerated() {
            let path = directory.appendingPathComponent("\(index).tsv").path
            try chunk.map { "\($0.0)\t\($0.1)\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
            commands.append(["bash", "-c", loop, "dpkg-loop", path])
        }
        let results = try runConcurrently(commands)
        var answers: [Int?] = []
        for result in results {
            try #require(result.status == 0, "dpkg loop failed: \(result.stderr)")
            answers += result.stdout.split(separator: "\n").map { Int($0) }
        }
        try #require(answers.count == pairs.count, "dpkg answered \(answers.count) of \(pairs.count) pairs")
        return answers
    }

    static func debianVersion(_ r: inout SeededRandom) -> String {
        var s = r.pick(["", "", "", "", "", "1:", "2:", "0:", "10:"])
        let hasRevision = r.chance(60)
        s += r.number()
        for _ in 0..<r.below(5) {
            s += r.pick([".", ".", ".", "+", "~", "", hasRevision ? "-" : ".", s.contains(":") ? ":" : "."])
            s += r.chance(60) ? r.number() : r.pick(["a", "b", "rc", "beta", "dfsg", "git", "Z", "bpo", "ubuntu", "z"])
        }
        if r.chance(15) { s += r.pick(["~", "~~", "+", "."]) }
        if hasRevision {
            s += "-" + r.pick(["", "", "0", "1", "01", "2", "10"])
            if s.hasSuffix("-") { s += r.number() }
            for _ in 0..<r.below(3) {
                s += r.pick([".", "+", "~", ""]) + (r.chance(50) ? r.number() : r.pick(["deb12u", "ubuntu", "bpo", "build", "a", "nmu"]))
            }
        }
        return s
    }

    static func debianMutation(_ s: String, _ r: inout SeededRandom) -> String {
        switch r.below(9) {
        case 0: return s + r.pick(["~rc1", "~", "+b1", ".0", "a", "-1", "+"])
        case 1: return s.hasPrefix("0:") ? String(s.dropFirst(2)) : (s.contains(":") ? s : "0:" + s)
        case 2: return s.replacingOccurrences(of: "1", with: r.pick(["01", "2", "10", "0"]))
        case 3: return String(s.dropLast(max(0, min(s.count - 1, 1 + r.below(3)))))
        case 4: return s.replacingOccurrences(of: ".", with: r.pick(["+", "~", "."]))
        case 5: return s.replacingOccurrences(of: "a", with: r.pick(["b", "A", "+", "~"]))
        default: return s.replacingOccurrences(of: "-", with: r.pick(["-1.", "~", "-"]))
        }
    }

    // MARK: PEP 440

    @Test func pep440AgainstPackaging() throws {
        var random = SeededRandom(seed: 0x0440)
        var pairs = Self.pairs(4000, &random, Self.pep440Version, mutate: Self.pep440Mutation)
        pairs += Self.pep440Tricky
        let script = """
            import json, sys
            from packaging.version import InvalidVersion, Version
            def parse(s):
                try:
                    return Version(s)
                except InvalidVersion:
                    return None
            out = []
            for a, b in json.load(open(sys.argv[1])):
                x, y = parse(a), parse(b)
                out.append("nil" if x is None or y is None else str((x > y) - (x < y)))
            print("\\n".join(out))
            """
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netctl-versions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("pairs.json").path
        try JSONEncoder().encode(pairs.map { [$0.0, $0.1] }).write(to: URL(fileURLWithPath: path))
        let packaging = try PythonTUF.run(script: script, args: [path]).split(separator: "\n").map { Int($0) }
        try #require(packaging.count == pairs.count)
        print("packaging: \(Self.tally(packaging))")
        var disagreements: [String] = []
        for (index, (a, b)) in pairs.enumerated() where PEP440Version.compare(a, b) != packaging[index] {
            disagreements.append("\(a.debugDescription) vs \(b.debugDescription): ours \(String(describing: PEP440Version.compare(a, b))), packaging \(String(describing: packaging[index]))")
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(pairs.count): \(disagreements.prefix(10).joined(separator: "; "))")
        #expect(Set(packaging) == [-1, 0, 1, nil])
        #expect(packaging.filter { $0 == 0 }.count > 200, "too few equal pairs to test normalisation")
    }

    /// Where this order knowingly leaves its oracles: packaging's case-insensitive regex
    /// matches a few non-ASCII look-alikes (`ı` for i, `ſ` for s, the Kelvin sign for k)
    /// and keeps them as written (`1.0prevıew` becomes the pre-release kind "prevıew"); they
    /// are no PEP 440 versions. dpkg reads an empty string as the blank version; it is none.
    @Test func refusedWhereTheOraclesAreLax() {
        for lookalike in ["1.0prev\u{131}ew1", "1.0.po\u{17F}t1", "1.0+\u{212A}", "1.0+\u{17F}"] {
            #expect(PEP440Version.compare(lookalike, "1.0") == nil, "\(lookalike)")
        }
        #expect(DebianVersion.compare("", "0") == nil)
        #expect(DebianVersion.compare("0", "") == nil)
    }

    /// Spellings PEP 440 normalises, orders it spells out, and strings it refuses.
    static let pep440Tricky: [(String, String)] = [
        ("1.0a1", "1.0.0a1"), ("1.0-post1", "1.0.post1"), ("1.0-1", "1.0.post1"), ("1.0.r1", "1.0.post1"),
        ("1.0rev", "1.0.post0"), ("1.0ALPHA1", "1.0a1"), ("1.0-beta.2", "1.0b2"), ("1.0c1", "1.0rc1"),
        ("1.0pre1", "1.0rc1"), ("1.0preview1", "1.0rc1"), ("v1.0", "1.0"), ("V1.0", "1.0"), ("  1.0\n", "1.0"),
        ("\u{85}1.0\u{3000}", "1.0"), ("\u{A0}1.0", "1.0"), ("1.0.dev1", "1.0a1"), ("1.0a1", "1.0"), ("1.0", "1.0+local"),
        ("1.0+local", "1.0.post1"), ("1.0.dev1", "1.0.dev1.post1"), ("1.0a1.dev1", "1.0a1"), ("1.0a1.post1.dev1", "1.0a1.post1"),
        ("1.0+abc", "1.0+ABC"), ("1.0+1", "1.0+01"), ("1.0+abc", "1.0+1"), ("1.0+abc.1", "1.0+abc"), ("1.0+a-b_c", "1.0+a.b.c"),
        ("1!0.1", "2.0"), ("0!1.0", "1.0"), ("1.0a", "1.0a0"), ("1.0a.", "1.0a0"), ("1.0.post.", "1.0.post0"), ("1.0.dev.", "1.0.dev0"),
        ("1.0a-1", "1.0a1"), ("1.0a.-1", "1.0a0.post1"), ("1.0a.-post1", "1.0a0.post1"), ("1.0_post_1", "1.0.post1"),
        ("1.0.0.0.0", "1"), ("1.0.0.0.1", "1"), ("99999999999999999999999", "99999999999999999999998"),
        ("1.0.0000000000000000000000001", "1.0.1"), ("1.0rc1", "1.0c1"), ("1.0b1", "1.0rc1"),
        ("1.0-", "1.0"), ("1.0.", "1.0"), ("1.0+", "1.0"), ("1.0+a..b", "1.0"), ("1.0+a.", "1.0"), ("2.0-beta-x", "2.0"),
        ("1.0 1", "1.0"), ("1..0", "1.0"), ("", "1.0"), ("v", "1.0"), ("1!", "1.0"), ("1.0a1a1", "1.0"), ("1.0-dev-1", "1.0.dev1"),
        ("1.0.post1-1", "1.0"), ("1.0--1", "1.0"), ("1.0-1-1", "1.0"), ("1.0-r-1", "1.0.post1"), ("1.0dev", "1.0.dev0"),
        ("1.0RC1", "1.0rc1"), ("1.0.POST1.DEV2", "1.0.post1.dev2"), ("1.0+ubuntu-1", "1.0+ubuntu.1"), ("1.0", "1.0\u{1F}"),
    ]

    static func pep440Version(_ r: inout SeededRandom) -> String {
        var s = ""
        if r.chance(5) { s += r.pick([" ", "\t", "\n"]) }
        if r.chance(10) { s += r.pick(["v", "V"]) }
        if r.chance(10) { s += r.number() + "!" }
        s += r.number()
        for _ in 0..<r.below(4) { s += "." + r.number() }
        if r.chance(40) {
            s += r.pick(["", "", ".", "-", "_"]) + r.pick(["a", "b", "rc", "c", "alpha", "beta", "pre", "preview", "A", "Beta", "RC"])
            if r.chance(80) { s += r.pick(["", "", ".", "-", "_"]) + r.number() }
        }
        if r.chance(30) {
            if r.chance(30) {
                s += "-" + r.number()
            } else {
                s += r.pick(["", ".", "-", "_"]) + r.pick(["post", "rev", "r", "POST"])
                if r.chance(80) { s += r.pick(["", ".", "-", "_"]) + r.number() }
            }
        }
        if r.chance(25) {
            s += r.pick(["", ".", "-", "_"]) + r.pick(["dev", "DEV"])
            if r.chance(80) { s += r.pick(["", ".", "-", "_"]) + r.number() }
        }
        if r.chance(20) {
            s += "+" + r.pick(["ubuntu", "1", "abc", "AbC", "01", "deadbeef", "z9"])
            for _ in 0..<r.below(3) { s += r.pick([".", "-", "_"]) + r.pick(["1", "2", "a", "b10", "010", "Xy"]) }
        }
        if r.chance(5) { s += r.pick([" ", "\t", "\r\n"]) }
        if r.chance(8) {
            // Break it, mostly: a character where it may or may not belong.
            var characters = Array(s)
            characters.insert(r.pick([".", "-", "_", "+", "!", "v", "x", " ", "a", "0", "post", "dev"]).first!, at: r.below(characters.count + 1))
            s = String(characters)
        }
        return s
    }

    static func pep440Mutation(_ s: String, _ r: inout SeededRandom) -> String {
        switch r.below(10) {
        case 0: return s + r.pick([".0", ".0.0", "a1", ".dev0", ".post0", "+local", "rc2", "-1"])
        case 1: return s.uppercased()
        case 2: return s.replacingOccurrences(of: ".", with: r.pick(["_", "-", ".0."]))
        case 3: return s.replacingOccurrences(of: "1", with: r.pick(["01", "2", "10", "0"]))
        case 4: return s.replacingOccurrences(of: "alpha", with: "a").replacingOccurrences(of: "rc", with: "c")
        case 5: return "v" + s
        case 6: return s.replacingOccurrences(of: "post", with: "r").replacingOccurrences(of: "pre", with: "rc")
        case 7: return String(s.dropLast(max(0, min(s.count - 1, 1 + r.below(3)))))
        default: return s.replacingOccurrences(of: "0", with: r.pick(["00", "", "1"]))
        }
    }

    // MARK: RPM

    @Test func rpmAgainstRpm() throws {
        var random = SeededRandom(seed: 0x4F4)
        var pairs = Self.pairs(3000, &random, Self.rpmVersion, mutate: Self.rpmMutation)
        pairs += Self.rpmTricky
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netctl-versions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("pairs.tsv").path
        try pairs.map { "\($0.0)\t\($0.1)\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
        // One Lua chunk compares every pair; rpm's print adds no newline, so join them.
        let chunk = """
            %{lua: local out = {} \
            for line in io.lines("\(path)") do local a, b = line:match("^(.-)\\t(.*)$"); out[#out + 1] = tostring(rpm.vercmp(a, b)) end \
            print(table.concat(out, "\\n"))}
            """
        let result = try runCommand(["rpm", "--eval", chunk])
        try #require(result.status == 0, "rpm --eval failed: \(result.stderr)")
        let rpm = result.stdout.split(separator: "\n").map { Int($0) }
        try #require(rpm.count == pairs.count, "rpm answered \(rpm.count) of \(pairs.count): \(result.stderr)")
        print("rpm: \(Self.tally(rpm))")
        var disagreements: [String] = []
        for (index, (a, b)) in pairs.enumerated() where RPMVersion.compare(a, b) != rpm[index] {
            disagreements.append("\(a) vs \(b): ours \(String(describing: RPMVersion.compare(a, b))), rpm \(String(describing: rpm[index]))")
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) of \(pairs.count): \(disagreements.prefix(10).joined(separator: "; "))")
        #expect(Set(rpm) == [-1, 0, 1])
        // rpm's Lua refuses an empty version; so does this.
        #expect(RPMVersion.compare("", "1") == nil)
        #expect(RPMVersion.compare("1", "") == nil)
    }

    /// rpm's own tests/rpmvercmp.at cases, and EVR shapes around them.
    static let rpmTricky: [(String, String)] = [
        ("1.0~rc1", "1.0"), ("1.0~rc1~git123", "1.0~rc1"), ("1.0^", "1.0"), ("1.0^git1", "1.01"), ("1.0^git1", "1.0^git2"),
        ("1.0^20160101", "1.0.1"), ("1.0^20160102", "1.0^20160101^git1"), ("1.0~rc1^git1", "1.0~rc1"), ("1.0^git1~pre", "1.0^git1"),
        ("1b.fc17", "1.fc17"), ("1g.fc17", "1.fc17"), ("1.1.α", "1.1.β"), ("1.1.αα", "1.1.α"), ("10.0001", "10.1"),
        ("xyz.4", "8"), ("6.0.rc1", "6.0"), ("5.5p10", "5.5p1"), ("+a", "_a"), ("_+", "+_"), ("2_0", "2.0"),
        ("1:1.0", "2.0"), ("0:1.0", "1.0"), (":1.0", "0:1.0"), ("01:1.0", "1:1.0"), ("1.0-1", "1.0"), ("1.0-1", "1.0-1.el8"),
        ("1:1.0-1", "1:1.0-2"), ("1.0-1-1", "1.0-1"), ("1:", "0:"), ("1.0-", "1.0"), ("-1", "0"), ("a:1.0", "1.0"),
        ("1.0-1.el8_5.1", "1.0-1.el8_5"), ("2.9.10-4.el8~bootstrap", "2.9.10-4.el8"), ("1.2.3^post1", "1.2.3.post1"),
        ("1~", "1"), ("1^", "1~"), ("1^1", "1.1"), ("a", "1"), ("1a", "1.a"), ("1..0", "1.0"), ("99999999999999999999", "99999999999999999998"),
    ]

    static func rpmVersion(_ r: inout SeededRandom) -> String {
        var s = r.pick(["", "", "", "", "1:", "0:", "2:", "10:", ":"])
        s += r.chance(90) ? r.number() : r.pick(["a", "git", "xyz"])
        for _ in 0..<r.below(5) {
            s += r.pick([".", ".", ".", "_", "+", "~", "^", "", "..", "é"])
            s += r.chance(60) ? r.number() : r.pick(["a", "b", "rc", "git", "p", "fc39", "el8", "Z", "pre", "alpha"])
        }
        if r.chance(10) { s += r.pick(["~", "^", ".", "+"]) }
        if r.chance(60) {
            s += "-" + r.number()
            for _ in 0..<r.below(3) {
                s += r.pick([".", "_", "~", "^", ""]) + (r.chance(50) ? r.number() : r.pick(["el8", "el9_2", "fc39", "git", "a", "module+el8.4.0+1234"]))
            }
        }
        return s
    }

    static func rpmMutation(_ s: String, _ r: inout SeededRandom) -> String {
        switch r.below(9) {
        case 0: return s + r.pick(["~rc1", "^git1", "~", "^", ".0", "a", "-1", ".el8"])
        case 1: return s.hasPrefix("0:") ? String(s.dropFirst(2)) : (s.contains(":") ? s : "0:" + s)
        case 2: return s.replacingOccurrences(of: "1", with: r.pick(["01", "2", "10", "0"]))
        case 3: return String(s.dropLast(max(0, min(s.count - 1, 1 + r.below(3)))))
        case 4: return s.replacingOccurrences(of: ".", with: r.pick(["_", "~", "^", "+", ".."]))
        case 5: return s.replacingOccurrences(of: "a", with: r.pick(["b", "A", "1"]))
        default: return s.replacingOccurrences(of: "-", with: r.pick(["-1.", "~", "-", "."]))
        }
    }

    // MARK: apk

    @Test func apkToolsVectors() throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("apk-version.data"), encoding: .utf8)
        var comparisons = 0, validity = 0, fuzzy = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            // As apk's version_test.c: drop the comment, trim, split on the first spaces.
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if fields.count == 3 {
                var op = fields[1]
                let inverted = op.hasPrefix("!")
                if inverted { op.removeFirst() }
                if op.contains("~") { fuzzy += 1; continue }   // prefix matching, not an order
                let mask: [Int] = op.compactMap { ["<": -1, "=": 0, ">": 1][$0] }
                let order = APKVersion.order(fields[0], fields[2])
                #expect(mask.contains(order) != inverted, "\(line): apk orders \(order)")
                // The public comparison agrees with apk wherever both are versions, else says nil.
                let valid = APKVersion.isValid(fields[0]) && APKVersion.isValid(fields[2])
                #expect(APKVersion.compare(fields[0], fields[2]) == (valid ? order : nil), "\(line)")
                #expect(APKVersion.order(fields[2], fields[0]) == -order, "\(line) reversed")
                comparisons += 1
            } else {
                let inverted = line.hasPrefix("!")
                let version = inverted ? String(line.dropFirst()) : line
                #expect(APKVersion.isValid(version) != inverted, "\(line)")
                if inverted { #expect(APKVersion.compare(version, "1.0") == nil, "\(line)") }
                validity += 1
            }
        }
        #expect(comparisons == 738)
        #expect(validity == 31)
        #expect(fuzzy == 16)
    }

    @Test func apkSuffixOrder() {
        // apk-version(8): _alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p.
        let chain = ["1.0_alpha", "1.0_alpha1", "1.0_beta", "1.0_pre", "1.0_rc", "1.0_rc2", "1.0", "1.0-r1",
                     "1.0_cvs", "1.0_svn", "1.0_git20240101", "1.0_hg", "1.0_p", "1.0_p1", "1.0a", "1.0b", "1.0.0", "1.0.1"]
        for (i, a) in chain.enumerated() {
            for (j, b) in chain.enumerated() {
                #expect(APKVersion.compare(a, b) == (i < j ? -1 : i == j ? 0 : 1), "\(a) vs \(b)")
            }
        }
    }

    // MARK: SemVer

    @Test func semverPrecedenceExamples() {
        // semver.org 2.0.0 §11: the two chains it gives.
        let chains = [["1.0.0", "2.0.0", "2.1.0", "2.1.1"],
                      ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
                       "1.0.0-rc.1", "1.0.0"],
                      ["0.0.0", "0.0.1-0", "0.0.1-1", "0.0.1-10", "0.0.1-A", "0.0.1-a", "0.0.1-a.0", "0.0.1-a-", "0.0.1",
                       "0.1.0", "9.9.9", "10.0.0", "99999999999999999999.0.0"]]
        for chain in chains {
            for (i, a) in chain.enumerated() {
                for (j, b) in chain.enumerated() {
                    #expect(SemanticVersion.compare(a, b) == (i < j ? -1 : i == j ? 0 : 1), "\(a) vs \(b)")
                }
            }
        }
        // Build metadata is ignored; a leading v is tolerated.
        #expect(SemanticVersion.compare("1.0.0-alpha+001", "1.0.0-alpha") == 0)
        #expect(SemanticVersion.compare("1.0.0+20130313144700", "1.0.0+exp.sha.5114f85") == 0)
        #expect(SemanticVersion.compare("v1.2.3", "1.2.3") == 0)
        #expect(SemanticVersion.compare("v1.2.3", "1.2.4") == -1)
    }

    /// semver.org's FAQ list of valid and invalid strings for its regular expression.
    @Test func semverValidity() {
        let valid = ["0.0.4", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta", "1.1.2+meta-valid", "1.0.0-alpha",
                     "1.0.0-beta", "1.0.0-alpha.beta", "1.0.0-alpha.beta.1", "1.0.0-alpha.1", "1.0.0-alpha0.valid",
                     "1.0.0-alpha.0valid", "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay", "1.0.0-rc.1+build.1",
                     "2.0.0-rc.1+build.123", "1.2.3-beta", "10.2.3-DEV-SNAPSHOT", "1.2.3-SNAPSHOT-123", "1.0.0", "2.0.0", "1.1.7",
                     "2.0.0+build.1848", "2.0.1-alpha.1227", "1.0.0-alpha+beta", "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
                     "1.2.3----R-S.12.9.1--.12+meta", "1.2.3----RC-SNAPSHOT.12.9.1--.12", "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
                     "99999999999999999999999.999999999999999999.99999999999999999", "1.0.0-0A.is.legal"]
        let invalid = ["1", "1.2", "1.2.3-0123", "1.2.3-0123.0123", "1.1.2+.123", "+invalid", "-invalid", "-invalid+invalid",
                       "-invalid.01", "alpha", "alpha.beta", "alpha.beta.1", "alpha.1", "alpha+beta", "alpha_beta", "alpha.",
                       "alpha..", "beta", "1.0.0-alpha_beta", "-alpha.", "1.0.0-alpha..", "1.0.0-alpha..1", "1.0.0-alpha...1",
                       "01.1.1", "1.01.1", "1.1.01", "1.2.3.DEV", "1.2-SNAPSHOT", "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
                       "1.2-RC-SNAPSHOT", "-1.0.3-gamma+b7718", "+justmeta", "9.8.7+meta+meta", "9.8.7-whatever+meta+meta",
                       "99999999999999999999999.999999999999999999.99999999999999999----RC-SNAPSHOT.12.09.1--------------------------------..12",
                       "", "v", "vv1.2.3", "1.2.3-", "1.2.3+", "1.2.3 "]
        for version in valid { #expect(SemanticVersion.compare(version, version) == 0, "\(version) is valid") }
        for version in invalid { #expect(SemanticVersion.compare(version, "1.0.0") == nil, "\(version) is invalid") }
    }

    // MARK: Go

    /// golang.org/x/mod semver/semver_test.go's `tests` (commit fe2ec04f7c3c3aa6fad97631aafcff6e49e2d1db), in its
    /// order: an input and its canonical form, "" when invalid. Its TestCompare: two valid
    /// inputs compare as their positions unless their canonical forms are equal.
    static let goVectors: [(String, String)] = [
        ("bad", ""), ("v1-alpha.beta.gamma", ""), ("v1-pre", ""), ("v1+meta", ""), ("v1-pre+meta", ""), ("v1.2-pre", ""),
        ("v1.2+meta", ""), ("v1.2-pre+meta", ""), ("v1.0.0-alpha", "v1.0.0-alpha"), ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"), ("v1.0.0-beta", "v1.0.0-beta"), ("v1.0.0-beta.2", "v1.0.0-beta.2"),
        ("v1.0.0-beta.11", "v1.0.0-beta.11"), ("v1.0.0-rc.1", "v1.0.0-rc.1"), ("v1", "v1.0.0"), ("v1.0", "v1.0.0"),
        ("v1.0.0", "v1.0.0"), ("v1.2", "v1.2.0"), ("v1.2.0", "v1.2.0"), ("v1.2.3-456", "v1.2.3-456"),
        ("v1.2.3-456.789", "v1.2.3-456.789"), ("v1.2.3-456-789", "v1.2.3-456-789"), ("v1.2.3-456a", "v1.2.3-456a"),
        ("v1.2.3-pre", "v1.2.3-pre"), ("v1.2.3-pre+meta", "v1.2.3-pre"), ("v1.2.3-pre.1", "v1.2.3-pre.1"),
        ("v1.2.3-zzz", "v1.2.3-zzz"), ("v1.2.3", "v1.2.3"), ("v1.2.3+meta", "v1.2.3"), ("v1.2.3+meta-pre", "v1.2.3"),
        ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
    ]

    @Test func goModSemverVectors() {
        for (i, (a, canonicalA)) in Self.goVectors.enumerated() {
            for (j, (b, canonicalB)) in Self.goVectors.enumerated() {
                let expected: Int? = canonicalA.isEmpty || canonicalB.isEmpty ? nil : canonicalA == canonicalB ? 0 : (i < j ? -1 : 1)
                #expect(GoVersion.compare(a, b) == expected, "\(a) vs \(b)")
            }
        }
    }

    @Test func goIncompatibleAndPseudoVersions() {
        // +incompatible is build metadata: no effect on order.
        #expect(GoVersion.compare("v2.0.0+incompatible", "v2.0.0") == 0)
        #expect(GoVersion.compare("v2.0.1+incompatible", "v2.0.0+incompatible") == 1)
        #expect(GoVersion.compare("v4.5.6+incompatible", "v10.0.0") == -1)
        // Pseudo-versions (go.dev/ref/mod#pseudo-versions), in the order Go means:
        // with no tag; after a pre-release tag; after a release tag.
        let chain = ["v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-abcdefabcdef", "v0.0.1",
                     "v1.2.3-pre", "v1.2.3-pre.0.20191109021931-daa7c04131f5", "v1.2.3-pre.1", "v1.2.3",
                     "v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4-0.20201109021931-daa7c04131f5", "v1.2.4-pre", "v1.2.4"]
        for (i, a) in chain.enumerated() {
            for (j, b) in chain.enumerated() {
                #expect(GoVersion.compare(a, b) == (i < j ? -1 : i == j ? 0 : 1), "\(a) vs \(b)")
            }
        }
        // Go wants the v; a stray part or leading zero is no version.
        for invalid in ["1.2.3", "v1.2.3.4", "v01.2.3", "v1.2.3-01", "v1.2.3+", "V1.2.3", ""] {
            #expect(GoVersion.compare(invalid, "v1.0.0") == nil, "\(invalid)")
        }
    }

    static let goSemver: String? = {
        guard let root = try? runCommand(["go", "env", "GOROOT"]), root.status == 0 else { return nil }
        let path = root.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/src/cmd/vendor/golang.org/x/mod/semver/semver.go"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()

    /// The Go toolchain's own copy of golang.org/x/mod/semver (vendored in GOROOT for the
    /// go command) as an oracle: generated Go versions, and SemVer versions with a `v`.
    @Test(.enabled(if: goSemver != nil, "no Go toolchain with a vendored x/mod/semver"))
    func goAndSemverAgainstXModSemver() throws {
        var random = SeededRandom(seed: 0x60)
        let goPairs = Self.pairs(3000, &random, Self.goVersion, mutate: Self.goMutation)
        let semverPairs = Self.pairs(2000, &random, { String(Self.goVersion(&$0).dropFirst()) }, mutate: Self.goMutation)
        let oracle = try Self.xModSemver(goPairs + semverPairs.map { ("v" + $0.0, "v" + $0.1) })
        print("x/mod/semver: \(Self.tally(oracle))")
        var disagreements: [String] = []
        for (index, (a, b)) in goPairs.enumerated() where GoVersion.compare(a, b) != oracle[index] {
            disagreements.append("Go \(a) vs \(b): ours \(String(describing: GoVersion.compare(a, b))), x/mod \(String(describing: oracle[index]))")
        }
        // SemVer is Go's order without the v and without Go's v1 and v1.2 shorthands.
        func full(_ v: String) -> Bool { v.prefix { $0 != "-" && $0 != "+" }.filter { $0 == "." }.count == 2 }
        for (index, (a, b)) in semverPairs.enumerated() {
            let expected = full(a) && full(b) ? oracle[goPairs.count + index] : nil
            if SemanticVersion.compare(a, b) != expected {
                disagreements.append("SemVer \(a) vs \(b): ours \(String(describing: SemanticVersion.compare(a, b))), x/mod \(String(describing: expected))")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count): \(disagreements.prefix(10).joined(separator: "; "))")
        #expect(Set(oracle) == [-1, 0, 1, nil])
    }

    /// semver.Compare per pair, nil where semver.IsValid refuses either, from one `go run`.
    static func xModSemver(_ pairs: [(String, String)]) throws -> [Int?] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netctl-versions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("semver"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(atPath: try #require(goSemver), toPath: directory.appendingPathComponent("semver/semver.go").path)
        try "module oracle\n\ngo 1.19\n".write(to: directory.appendingPathComponent("go.mod"), atomically: true, encoding: .utf8)
        try """
            package main

            import (
            \t"bufio"
            \t"fmt"
            \t"os"
            \t"strings"

            \t"oracle/semver"
            )

            func main() {
            \tscanner := bufio.NewScanner(os.Stdin)
            \tfor scanner.Scan() {
            \t\tpair := strings.SplitN(scanner.Text(), "\\t", 2)
            \t\tif !semver.IsValid(pair[0]) || !semver.IsValid(pair[1]) {
            \t\t\tfmt.Println("nil")
            \t\t} else {
            \t\t\tfmt.Println(semver.Compare(pair[0], pair[1]))
            \t\t}
            \t}
            }
            """.write(to: directory.appendingPathComponent("main.go"), atomically: true, encoding: .utf8)
        let input = directory.appendingPathComponent("pairs.tsv").path
        try pairs.map { "\($0.0)\t\($0.1)\n" }.joined().write(toFile: input, atomically: true, encoding: .utf8)
        // Offline: the module has no requirements, and the proxy is off in any case.
        let result = try runCommand(["bash", "-c", "cd \"$1\" && go run . < \"$2\"", "go-oracle", directory.path, input],
                                    environment: ["GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GO111MODULE": "on"])
        try #require(result.status == 0, "go run failed: \(result.stderr)")
        let answers = result.stdout.split(separator: "\n").map { Int($0) }
        try #require(answers.count == pairs.count, "x/mod/semver answered \(answers.count) of \(pairs.count)")
        return answers
    }

    static func goVersion(_ r: inout SeededRandom) -> String {
        if r.chance(10) {
            // Pseudo-versions: no tag, after a pre-release, after a release.
            let stamp = "2019\(r.pick(["01", "11", "12"]))0\(r.below(10))\(r.pick(["021931", "000000", "235959"]))-\(r.pick(["daa7c04131f5", "abcdefabcdef"]))"
            return r.pick(["v0.0.0-\(stamp)", "v1.2.4-0.\(stamp)", "v1.2.3-pre.0.\(stamp)", "v2.0.0-\(stamp)+incompatible"])
        }
        // Numbers mostly canonical: a leading zero makes the whole version invalid.
        func number(_ r: inout SeededRandom) -> String { r.chance(92) ? r.pick([String(r.below(12)), "0", "0", "123456789012345678901"]) : r.number() }
        var s = r.pick(["v", "v", "v", "v", "v", "v", "v", "v", "v", "v", "V", ""]) + number(&r)
        let parts = r.chance(85) ? 2 : r.below(2)
        for _ in 0..<parts { s += "." + number(&r) }
        if r.chance(40) {
            s += "-"
            for index in 0..<1 + r.below(3) {
                s += (index > 0 ? "." : "") + (r.chance(50) ? number(&r) : r.pick(["alpha", "beta", "rc", "pre", "A", "x-y", "-", "0a", "", "alpha"]))
            }
        }
        if r.chance(20) { s += "+" + r.pick(["incompatible", "meta", "build.1", "001", "x..y", ""]) }
        return s
    }

    static func goMutation(_ s: String, _ r: inout SeededRandom) -> String {
        switch r.below(8) {
        case 0: return s + r.pick(["-rc.1", ".1", "+incompatible", "-0", "-alpha", ".0"])
        case 1: return s.replacingOccurrences(of: "1", with: r.pick(["01", "2", "10", "0"]))
        case 2: return String(s.dropLast(max(0, min(s.count - 1, 1 + r.below(3)))))
        case 3: return s.replacingOccurrences(of: ".", with: r.pick([".", "-", "..", ".0."]))
        case 4: return s.replacingOccurrences(of: "-", with: r.pick(["-", "+", "-0.", "."]))
        case 5: return s.replacingOccurrences(of: "a", with: r.pick(["b", "A", "1", "-"]))
        default: return s.replacingOccurrences(of: "0", with: r.pick(["1", "00", "9"]))
        }
    }

    // MARK: The scheme dispatch

    @Test func schemesDispatchToTheirOrders() {
        #expect(VersionScheme.debian.compare("1.0~rc1", "1.0") == -1)
        #expect(VersionScheme.apk.compare("1.0_rc1", "1.0") == -1)
        #expect(VersionScheme.rpm.compare("1.0^git1", "1.0") == 1)
        #expect(VersionScheme.pep440.compare("1.0rc1", "1.0") == -1)
        #expect(VersionScheme.semver.compare("1.0.0-rc.1", "1.0.0") == -1)
        #expect(VersionScheme.go.compare("v1.0.0-rc.1", "v1.0.0") == -1)
        #expect(VersionScheme.go.compare("1.0.0", "1.0.0") == nil)
    }

    // MARK: Speed (printed, not asserted)

    @Test func comparisonsPerSecond() {
        let samples: [(VersionScheme, [(String, String)])] = [
            (.debian, [("1:2.36.1-8+deb12u1", "1:2.36.1-8+deb12u2"), ("3.0.11-1~deb12u2", "3.0.11-1")]),
            (.apk, [("3.1.4-r5", "3.1.4-r6"), ("1.36.1_git20240101-r0", "1.36.1-r0")]),
            (.rpm, [("1:3.0.7-25.el9_3", "1:3.0.7-27.el9"), ("2.9.13-2.el9^git1", "2.9.13-2.el9")]),
            (.pep440, [("2.31.0", "2.32.0rc1"), ("1.26.18.post1+local", "1.26.18")]),
            (.semver, [("4.17.21", "4.17.20"), ("1.0.0-beta.11", "1.0.0-rc.1")]),
            (.go, [("v0.17.0", "v0.0.0-20231214170342-aacd6d4b4611"), ("v2.1.0+incompatible", "v2.1.0")]),
        ]
        for (scheme, pairs) in samples {
            let rounds = 50_000
            var sum = 0
            let elapsed = ContinuousClock().measure {
                for _ in 0..<rounds { for (a, b) in pairs { sum &+= scheme.compare(a, b) ?? 0 } }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("\(scheme): \(Int(Double(rounds * pairs.count) / seconds)) comparisons/s (debug build; checksum \(sum))")
        }
    }

    // MARK: Generating pairs

    /// How an oracle's answers spread: `2000 pairs: 700 lower, 300 equal, 900 higher, 100 refused`.
    static func tally(_ answers: [Int?]) -> String {
        "\(answers.count) pairs: \(answers.filter { $0 == -1 }.count) lower, \(answers.filter { $0 == 0 }.count) equal, "
            + "\(answers.filter { $0 == 1 }.count) higher, \(answers.filter { $0 == nil }.count) refused"
    }

    /// `count` pairs: mostly a version and a near variant of it (so they share prefixes and
    /// differ where orders are subtle), some a version and itself, some unrelated.
    static func pairs(_ count: Int, _ random: inout SeededRandom, _ generate: (inout SeededRandom) -> String,
                      mutate: (String, inout SeededRandom) -> String) -> [(String, String)] {
        (0..<count).map { _ in
            let a = generate(&random)
            switch random.below(10) {
            case 0: return (a, a)
            case 1, 2: return (a, generate(&random))
            default:
                var b = mutate(a, &random)
                // A mutation that found nothing to change tries again, twice.
                for _ in 0..<2 where b == a { b = mutate(a, &random) }
                if random.chance(30) { b = mutate(b, &random) }
                return random.chance(50) ? (a, b) : (b, a)
            }
        }
    }
}

/// SplitMix64: the same pairs on every run, so a disagreement can be reproduced.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// A version number: small mostly, some with leading zeros, some long (dates, overflow).
    mutating func number() -> String {
        switch below(20) {
        case 0: return "0" + String(below(10))
        case 1: return "00"
        case 2: return String(20_000_000 + below(100_000_000))
        case 3: return "18446744073709551617"
        case 4, 5, 6: return "0"
        default: return String(below(12))
        }
    }
}
