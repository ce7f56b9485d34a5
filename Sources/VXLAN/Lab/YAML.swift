import CYAML

/// A YAML document as a tree of nodes that know their line, read with libyaml (the C
/// library PyYAML and Yams wrap), loaded on first use. Only `lab up` reads YAML, so no
/// other command loads it, and the binary carries no YAML library of its own (Yams would
/// bring Foundation's whole 35 MB into every command).
public enum YAMLNode: Sendable {
    /// Where a node starts: its line, from 1.
    public struct Mark: Sendable { public var line: Int }
    public struct Scalar: Sendable {
        public var string: String
        public var mark: Mark
    }
    public struct Mapping: Sequence, Sendable {
        public var pairs: [(YAMLNode, YAMLNode)]
        public var mark: Mark
        public func makeIterator() -> IndexingIterator<[(YAMLNode, YAMLNode)]> { pairs.makeIterator() }
    }
    public struct List: Sequence, Sendable {
        public var items: [YAMLNode]
        public var mark: Mark
        public func makeIterator() -> IndexingIterator<[YAMLNode]> { items.makeIterator() }
    }

    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(List)

    public var mark: Mark? {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let list): list.mark
        }
    }

    /// A malformed document: libyaml's complaint and where.
    public struct Error: Swift.Error, Sendable {
        public var problem: String
        public var line: Int?
    }

    /// Bounds on what a document may expand to (aliases repeat what they name: a "billion
    /// laughs" file would otherwise be walked exponentially). Each repeat of a scalar is a
    /// copy of its text, so the text is bounded too: a long value named a hundred thousand
    /// times is as large as a billion laughs, in fewer nodes.
    static let maximumNodes = 100_000
    static let maximumDepth = 64
    static let maximumText = 4 << 20

    /// The first document of `text`; nil when it has none.
    public static func compose(yaml text: String) throws -> YAMLNode? {
        var reason = [CChar](repeating: 0, count: 256)
        guard ly_load(&reason, reason.count) == 0 else {
            throw Error(problem: String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), line: nil)
        }
        var parser = yaml_parser_t()
        guard ly_parser_initialize(&parser) != 0 else { throw Error(problem: "libyaml could not start a parser", line: nil) }
        defer { ly_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        var document = yaml_document_t()
        let loaded = bytes.withUnsafeBufferPointer { buffer -> Int32 in
            ly_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return ly_parser_load(&parser, &document)
        }
        guard loaded != 0 else {
            let problem = parser.problem.map { String(cString: $0) } ?? "unreadable"
            throw Error(problem: problem, line: Int(parser.problem_mark.line) + 1)
        }
        defer { ly_document_delete(&document) }
        guard let root = ly_document_get_root_node(&document) else { return nil }
        var budget = Budget(nodes: maximumNodes, text: maximumText)
        return try node(root, in: &document, depth: 0, budget: &budget)
    }

    /// What is left of the bounds as the tree is built.
    private struct Budget { var nodes: Int, text: Int }

    private static func node(_ raw: UnsafeMutablePointer<yaml_node_t>, in document: inout yaml_document_t,
                             depth: Int, budget: inout Budget) throws -> YAMLNode {
        let mark = Mark(line: Int(raw.pointee.start_mark.line) + 1)
        budget.nodes -= 1
        if raw.pointee.type == YAML_SCALAR_NODE { budget.text -= Int(raw.pointee.data.scalar.length) }
        guard budget.nodes >= 0, budget.text >= 0, depth < maximumDepth else {
            throw Error(problem: "the document nests or repeats too much (at most \(maximumNodes) nodes, \(maximumDepth) levels, \(maximumText >> 20) MB of values)", line: mark.line)
        }
        switch raw.pointee.type {
        case YAML_SCALAR_NODE:
            let scalar = raw.pointee.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            return .scalar(Scalar(string: text, mark: mark))
        case YAML_SEQUENCE_NODE:
            var items: [YAMLNode] = []
            var item = raw.pointee.data.sequence.items.start
            while let current = item, current != raw.pointee.data.sequence.items.top {
                guard let child = ly_document_get_node(&document, current.pointee) else { break }
                items.append(try node(child, in: &document, depth: depth + 1, budget: &budget))
                item = current + 1
            }
            return .sequence(List(items: items, mark: mark))
        case YAML_MAPPING_NODE:
            var pairs: [(YAMLNode, YAMLNode)] = []
            var pair = raw.pointee.data.mapping.pairs.start
            while let current = pair, current != raw.pointee.data.mapping.pairs.top {
                guard let key = ly_document_get_node(&document, current.pointee.key),
                      let value = ly_document_get_node(&document, current.pointee.value) else { break }
                pairs.append((try node(key, in: &document, depth: depth + 1, budget: &budget),
                              try node(value, in: &document, depth: depth + 1, budget: &budget)))
                pair = current + 1
            }
            return .mapping(Mapping(pairs: pairs, mark: mark))
        default:
            throw Error(problem: "an empty node", line: mark.line)
        }
    }
}
