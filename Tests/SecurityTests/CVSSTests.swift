import Foundation
import Security
import Testing
import TestSupport

/// CVSS v3 base scores against the python `cvss` package (RedHatProductSecurity/cvss, in
/// .build-venv), which computes them in exact decimal arithmetic.
@Suite struct CVSSTests {
    /// Every base vector of v3.0 and v3.1 (2 × 2,592), and some with temporal and
    /// environmental metrics or in another order, scored by netctl and by python.
    @Test func baseScoresEqualPythonCVSS() throws {
        var vectors: [String] = []
        for version in ["3.0", "3.1"] {
            for av in ["N", "A", "L", "P"] { for ac in ["L", "H"] { for pr in ["N", "L", "H"] { for ui in ["N", "R"] {
                for s in ["U", "C"] { for c in ["H", "L", "N"] { for i in ["H", "L", "N"] { for a in ["H", "L", "N"] {
                    vectors.append("CVSS:\(version)/AV:\(av)/AC:\(ac)/PR:\(pr)/UI:\(ui)/S:\(s)/C:\(c)/I:\(i)/A:\(a)")
                } } } }
            } } } }
        }
        // Extra metrics do not change the base score; the order of metrics is free.
        var generator = SeededGenerator(seed: 16)
        let bases = vectors
        for index in 0..<300 {
            let base = bases[Int(generator.next() % UInt64(bases.count))]
            var parts = base.split(separator: "/").map(String.init)
            let prefix = parts.removeFirst()
            let extras = [["E:U", "E:P", "E:H", "E:X"], ["RL:O", "RL:W", "RL:X"], ["MAV:L", "MAV:N"], ["MS:C", "MS:X"], ["CR:H", "CR:L"], ["MPR:H"]]
            for group in extras.prefix(1 + index % extras.count) { parts.append(group[Int(generator.next() % UInt64(group.count))]) }
            parts.shuffle(using: &generator)
            vectors.append(([prefix] + parts).joined(separator: "/"))
        }
        let file = NSTemporaryDirectory() + uniqueName("netctl-cvss-") + ".txt"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try vectors.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let output = try PythonTUF.run(script: """
            import sys
            from cvss import CVSS3
            for line in open(sys.argv[1]).read().split("\\n"):
                print(CVSS3(line).base_score)
            """, args: [file])
        let expected = output.split(separator: "\n").map { Double($0)! }
        try #require(expected.count == vectors.count)
        var mismatches: [String] = []
        for (vector, score) in zip(vectors, expected) {
            let ours = try CVSS.baseScore(vector: vector)
            if ours != score { mismatches.append("\(vector): netctl \(ours), python \(score)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        // The scores span the whole scale, so the test covers every branch of the formula.
        let scores = Set(expected)
        #expect(scores.contains(0) && scores.contains(10) && scores.count > 60)
    }

    @Test func knownScores() throws {
        #expect(try CVSS.baseScore(vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8)
        #expect(try CVSS.baseScore(vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H") == 10.0)
        // GHSA-j8r2-6x86-q33q (requests) and GHSA-c2qf-rxjj-qqgw (semver) as GitHub scores them.
        #expect(try CVSS.baseScore(vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N") == 6.1)
        #expect(try CVSS.baseScore(vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L") == 5.3)
        #expect(try CVSS.baseScore(vector: "CVSS:3.0/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N") == 0.0)
    }

    /// Vectors python refuses too, each with a message naming the vector and the fault.
    @Test func malformedVectorsAreRefused() throws {
        let cases: [(String, String)] = [
            ("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "expected it to begin with CVSS:3.0/ or CVSS:3.1/"),
            ("CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "expected it to begin with CVSS:3.0/ or CVSS:3.1/"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "base metric A missing"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/C:H/I:H", "base metrics S, A missing"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", "\"\" is not METRIC:VALUE"),
            ("CVSS:3.1//AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "\"\" is not METRIC:VALUE"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L", "metric A given twice"),
            ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:X is not a value of AV (expected one of A, L, N, P)"),
            ("CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:n is not a value of AV"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y", "unknown metric \"XX\""),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E", "\"E\" is not METRIC:VALUE"),
        ]
        for (vector, reason) in cases {
            do {
                let score = try CVSS.baseScore(vector: vector)
                Issue.record("\(vector): scored \(score)")
            } catch {
                #expect(error.description.hasPrefix("CVSS vector \"\(vector)\": ") && error.description.contains(reason), "\(error)")
            }
        }
        let refusedByPython = try PythonTUF.run(script: """
            import sys
            from cvss import CVSS3
            for vector in sys.argv[1:]:
                try:
                    CVSS3(vector)
                    print("accepted")
                except Exception:
                    print("refused")
            """, args: cases.map(\.0))
        #expect(refusedByPython.split(separator: "\n") == Array(repeating: "refused", count: cases.count))
    }
}

/// splitmix64: the same generated vectors every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
