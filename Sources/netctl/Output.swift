import FoundationEssentials

/// Output for people (aligned tables) and for programs (JSON).
enum Output {
    static func table(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        for row in [header] + rows {
            let cells = row.indices.map { column in
                column == row.count - 1 ? row[column] : row[column].padding(to: widths[column] + 3)
            }
            print(cells.joined())
        }
    }

    static func json<T: Encodable>(_ value: T, pretty: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// `KEY=VALUE` list into a dictionary; a missing `=` is an error naming the flag.
    static func pairs(_ items: [String], flag: String, valueRequired: Bool = true) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !pair[0].isEmpty, pair.count == 2 || !valueRequired else {
                throw CLIError("invalid \(flag) \"\(item)\": expected KEY=VALUE")
            }
            result[pair[0]] = pair.count == 2 ? pair[1] : ""
        }
        return result
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
