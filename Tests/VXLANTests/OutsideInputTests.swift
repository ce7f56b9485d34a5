import Testing
@testable import VXLAN

/// What FuzzOverlay found in the overlay's readers of outside data (lab files, etcd's
/// answers), each kept as a case here and as an input in Fuzz/Corpus/FuzzOverlay.
@Suite struct OutsideInputTests {
    /// A long value named through aliases a hundred thousand times: within the node bound,
    /// but every repeat copied its text (60 GB from this 1 MB file). Refused by the text bound.
    @Test func aliasesOfALongValueAreRefused() throws {
        var lines = ["s: &s " + String(repeating: "x", count: 600_000), "a0: &a0 [" + Array(repeating: "*s", count: 10).joined(separator: ", ") + "]"]
        for level in 1...4 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        lines.append("name: *a4")
        let text = lines.joined(separator: "\n") + "\n"
        #expect(text.utf8.count < LabTopology.maximumFileSize)
        let error = #expect(throws: LabError.self) { try LabTopology.parse(text, file: "/tmp/laughs.yaml") }
        #expect(error?.description == "laughs.yaml:1: not valid YAML: the document nests or repeats too much (at most 100000 nodes, 64 levels, 4 MB of values)")
    }

    /// The same value named a few times is a document like any other.
    @Test func aFewAliasesOfALongValueAreRead() throws {
        let text = "a: &a " + String(repeating: "x", count: 100_000) + "\nb: [*a, *a, *a]\n"
        guard case .mapping(let mapping) = try #require(try YAMLNode.compose(yaml: text)),
              case .sequence(let list) = mapping.pairs[1].1 else { Issue.record("not a mapping of a list"); return }
        #expect(list.items.count == 3)
    }
}
