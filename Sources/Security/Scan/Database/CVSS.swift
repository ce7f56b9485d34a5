import FoundationEssentials
import Glibc

/// CVSS v3.0 and v3.1 base scores, by the formula of the specification
/// (https://www.first.org/cvss/v3.1/specification-document, section 7.1; v3.0's section 8.1).
public enum CVSS {
    /// The base score of a vector such as `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`.
    /// Temporal and environmental metrics may follow (they are checked, and do not change
    /// the base score). Metrics may come in any order, each at most once.
    public static func baseScore(vector: String) throws(ScanError) -> Double {
        try Vector(vector).baseScore
    }

    struct Vector {
        var minor: Int
        var metrics: [String: String]

        // Every metric of v3.x (base, temporal, environmental) and its values (Table 15 of
        // the v3.1 specification; v3.0 has the same ones).
        static let values: [String: Set<String>] = [
            "AV": ["N", "A", "L", "P"], "AC": ["L", "H"], "PR": ["N", "L", "H"], "UI": ["N", "R"],
            "S": ["U", "C"], "C": ["H", "L", "N"], "I": ["H", "L", "N"], "A": ["H", "L", "N"],
            "E": ["X", "H", "F", "P", "U"], "RL": ["X", "U", "W", "T", "O"], "RC": ["X", "C", "R", "U"],
            "CR": ["X", "H", "M", "L"], "IR": ["X", "H", "M", "L"], "AR": ["X", "H", "M", "L"],
            "MAV": ["X", "N", "A", "L", "P"], "MAC": ["X", "L", "H"], "MPR": ["X", "N", "L", "H"],
            "MUI": ["X", "N", "R"], "MS": ["X", "U", "C"], "MC": ["X", "H", "L", "N"],
            "MI": ["X", "H", "L", "N"], "MA": ["X", "H", "L", "N"],
        ]
        static let base = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"]

        init(_ text: String) throws(ScanError) {
            func fail(_ what: String) -> ScanError {
                .invalid("CVSS vector \(quoted(text, limit: 200)): \(what)")
            }
            guard text.utf8.count <= 256 else { throw fail("longer than 256 characters") }
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            switch parts.first {
            case "CVSS:3.0": minor = 0
            case "CVSS:3.1": minor = 1
            default: throw fail("expected it to begin with CVSS:3.0/ or CVSS:3.1/")
            }
            metrics = [:]
            for part in parts.dropFirst() {
                let pair = part.split(separator: ":", omittingEmptySubsequences: false)
                guard pair.count == 2 else { throw fail("\(quoted(part)) is not METRIC:VALUE") }
                let name = String(pair[0]), value = String(pair[1])
                guard let allowed = Self.values[name] else { throw fail("unknown metric \(quoted(name))") }
                guard allowed.contains(value) else {
                    throw fail("\(oneLine("\(name):\(value)", limit: 80)) is not a value of \(name) (expected one of \(allowed.sorted().joined(separator: ", ")))")
                }
                guard metrics.updateValue(value, forKey: name) == nil else { throw fail("metric \(name) given twice") }
            }
            let missing = Self.base.filter { metrics[$0] == nil }
            guard missing.isEmpty else { throw fail("base metric\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) missing") }
        }

        var baseScore: Double {
            let changed = metrics["S"] == "C"
            let attackVector = ["N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2][metrics["AV"]!]!
            let complexity = ["L": 0.77, "H": 0.44][metrics["AC"]!]!
            let privileges = (changed ? ["N": 0.85, "L": 0.68, "H": 0.5] : ["N": 0.85, "L": 0.62, "H": 0.27])[metrics["PR"]!]!
            let interaction = ["N": 0.85, "R": 0.62][metrics["UI"]!]!
            let cia = { (name: String) in ["H": 0.56, "L": 0.22, "N": 0.0][metrics[name]!]! }
            let iss = 1 - (1 - cia("C")) * (1 - cia("I")) * (1 - cia("A"))
            let impact = changed ? 7.52 * (iss - 0.029) - 3.25 * pow(iss - 0.02, 15) : 6.42 * iss
            let exploitability = 8.22 * attackVector * complexity * privileges * interaction
            guard impact > 0 else { return 0 }
            return CVSS.roundUp(changed ? min(1.08 * (impact + exploitability), 10) : min(impact + exploitability, 10))
        }
    }

    /// "The smallest number, specified to one decimal place, that is equal to or higher
    /// than its input", as v3.1's Appendix A computes it so that floating-point error
    /// cannot push a score up a tenth. v3.0 defines Roundup by the same words with a naive
    /// ceil(x × 10) / 10, which a double can land just above (4.000000000001 → 4.1); its
    /// intent, which exact (decimal) calculators follow, is what v3.1's form computes.
    static func roundUp(_ input: Double) -> Double {
        let integer = Int((input * 100_000).rounded())
        if integer % 10_000 == 0 { return Double(integer) / 100_000 }
        return Double(integer / 10_000 + 1) / 10
    }
}
