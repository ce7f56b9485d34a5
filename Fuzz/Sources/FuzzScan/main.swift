import Security

/// What `scan db import` reads from outside, and the orderings it applies: the first byte
/// picks what the rest is. 0: an OSV file, checked as an import checks it (any error must
/// be one line naming the file). 1: a CVSS v3 vector, whose score must lie in 0…10 in
/// tenths. 2: two versions (a newline between), compared in every scheme: the order must
/// be antisymmetric, a version equal to itself, and `nil` on one side on the other.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let rest = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 3 {
    case 0:
        do {
            let advisory = try AdvisoryImport.check(osv: rest, file: "input.json")
            precondition(!advisory.id.isEmpty && !advisory.modified.isEmpty, "an advisory without id or modified was accepted")
            if let score = advisory.score { precondition((0...10).contains(score), "score \(score)") }
        } catch {
            precondition(error.description.hasPrefix("input.json: ") && !error.description.contains("\n"), "error not one line naming the file: \(error)")
        }
    case 1:
        if let score = try? CVSS.baseScore(vector: String(decoding: rest, as: UTF8.self)) {
            precondition((0...10).contains(score) && (score * 10).rounded() == score * 10, "score \(score)")
        }
    default:
        let text = String(decoding: rest, as: UTF8.self)
        guard let newline = text.firstIndex(of: "\n") else { return 0 }
        let a = String(text[..<newline]), b = String(text[text.index(after: newline)...])
        for scheme in VersionScheme.allCases {
            let forward = scheme.compare(a, b), backward = scheme.compare(b, a)
            precondition(forward.map { -$0 } == backward, "\(scheme): \(a) vs \(b) gives \(String(describing: forward)), reversed \(String(describing: backward))")
            if let self_ = scheme.compare(a, a) { precondition(self_ == 0, "\(scheme): \(a) is not equal to itself") }
        }
    }
    return 0
}
