import Foundation
import JSON
import Testing

@Suite("JSON")
struct JSONTests {
    // MARK: Against Python's json module

    @Test("generated documents parse to Python's value and serialize back to it")
    func oracleRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let hexLines = try python(OracleScripts.generate, arguments: ["17", "3000"])
        let documents = hexLines.split(separator: "\n").map { bytes(hex: $0) }
        #expect(documents.count == 3000)
        var outputs: [String] = []
        for document in documents {
            let value = try JSON.parse(document)
            // Our own round trip: serialized text parses to the very same tree.
            #expect(try JSON.parse(value.serializedBytes) == value, "\(String(decoding: document, as: UTF8.self))")
            outputs.append(hex(value.serializedBytes))
        }
        let documentsFile = directory.path + "/documents", outputsFile = directory.path + "/outputs"
        try hexLines.write(toFile: documentsFile, atomically: true, encoding: .utf8)
        try outputs.joined(separator: "\n").write(toFile: outputsFile, atomically: true, encoding: .utf8)
        let verdict = try python(OracleScripts.compare, arguments: [documentsFile, outputsFile])
        #expect(verdict.contains("compared 3000 bad 0"), "\(verdict)")
    }

    /// RFC 8259's refusals, each with where the document goes wrong. Python refuses each
    /// too (with NaN and Infinity off), except where the comment says.
    static let refused: [(document: String, offset: Int, message: String)] = [
        ("", 0, "unexpected end of input"),
        ("   ", 3, "unexpected end of input"),
        ("[1,2,]", 5, "trailing comma in an array"),
        ("{\"a\":1,}", 7, "trailing comma in an object"),
        ("[1 2]", 3, "expected \",\" or \"]\""),
        ("{\"a\" 1}", 5, "expected \":\" after a key"),
        ("{a:1}", 1, "expected a key in quotes"),
        ("01", 0, "leading zero in a number"),
        ("[-012]", 2, "leading zero in a number"),
        ("1.", 2, "expected digits after \".\" in a number"),
        (".5", 0, "unexpected \".\""),
        ("1e", 2, "expected digits in a number's exponent"),
        ("+1", 0, "unexpected \"+\""),
        ("-", 1, "expected digits in a number"),
        ("NaN", 0, "unexpected \"N\""),
        ("Infinity", 0, "unexpected \"I\""),
        ("tru", 3, "unexpected end of input"),
        ("nul1", 0, "unexpected text, expected null"),
        ("\"abc", 0, "unterminated string"),
        ("[\"a\u{01}\"]", 3, "control character in a string (escape it as \\u0001)"),
        ("\"tab\there\"", 4, "control character in a string (escape it as \\u0009)"),
        ("\"new\nline\"", 4, "control character in a string (escape it as \\u000a)"),
        ("\"\\x\"", 1, "invalid escape in a string"),
        ("\"\\u12G4\"", 5, "expected 4 hex digits after \\u"),
        ("\"\\u12", 3, "unterminated \\u escape"),
        ("[1]]", 3, "unexpected text after the document"),
        ("{} {}", 3, "unexpected text after the document"),
        ("[", 1, "unexpected end of input"),
        ("{\"a\":", 5, "unexpected end of input"),
        ("\u{feff}{}", 0, "unexpected byte 0xef"),
    ]

    @Test("RFC 8259's refusals name the offset, and Python refuses them too")
    func refusals() throws {
        for item in Self.refused {
            #expect(throws: JSON.ParseError(message: item.message, offset: item.offset), "\(item.document.debugDescription)") {
                try JSON.parse(item.document)
            }
        }
        let verdicts = try python(OracleScripts.refuses, arguments: [], input: Self.refused.map { "x" + hex(Array($0.document.utf8)) }.joined(separator: "\n"))
        #expect(verdicts.split(separator: "\n") == Array(repeating: "refused", count: Self.refused.count), "\(verdicts)")
    }

    @Test("invalid UTF-8 is refused where it starts; valid sequences of every length are kept")
    func utf8() throws {
        let bad: [([UInt8], Int)] = [
            ([0x22, 0xff, 0x22], 1),                    // never a UTF-8 byte
            ([0x22, 0x61, 0x80, 0x22], 2),              // a continuation without a lead
            ([0x22, 0xc0, 0xaf, 0x22], 1),              // overlong "/"
            ([0x22, 0xe0, 0x80, 0xaf, 0x22], 1),        // overlong, three bytes
            ([0x22, 0xed, 0xa0, 0x80, 0x22], 1),        // a surrogate, encoded
            ([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], 1),  // past U+10FFFF
            ([0x22, 0xe2, 0x82], 1),                    // cut short
        ]
        for (document, offset) in bad {
            #expect(throws: JSON.ParseError(message: "invalid UTF-8 in a string", offset: offset), "\(document)") {
                try JSON.parse(document)
            }
        }
        #expect(try JSON.parse("\"é中😀\u{10FFFF}\"") == .string("é中😀\u{10FFFF}"))
    }

    /// Lone surrogates: Python keeps them (its strings may hold them), Go and Swift's
    /// JSONDecoder write U+FFFD instead. A Swift String cannot hold one, and a silent change
    /// of a name or a path is worse than a refusal, so netctl refuses them.
    @Test("lone surrogate escapes are refused, pairs are joined")
    func surrogates() throws {
        for (document, offset) in [("\"\\ud800\"", 1), ("\"a\\udc00\"", 2), ("\"\\ud800\\u0041\"", 1), ("\"\\ud800x\"", 1), ("\"\\udbff\\ud800\"", 1)] {
            #expect(throws: JSON.ParseError.self, "\(document)") { try JSON.parse(document) }
            do { _ = try JSON.parse(document) } catch {
                #expect(error.offset == offset && error.message.hasPrefix("lone surrogate"), "\(error)")
            }
        }
        #expect(try JSON.parse("\"\\ud83d\\ude00\\uD83D\\uDE00\"") == .string("😀😀"))
    }

    @Test("depth and size limits refuse with the offset where they are passed")
    func limits() throws {
        let limits = JSON.Limits(maximumBytes: 1000, maximumDepth: 4)
        #expect(try JSON.parse("[[[[1]]]]", limits: limits) == [[[[1]]]])
        #expect(try JSON.parse("{\"a\":[{\"b\":[]}]}", limits: limits).serialized == "{\"a\":[{\"b\":[]}]}")
        #expect(throws: JSON.ParseError(message: "nested deeper than 4 levels", offset: 4)) {
            try JSON.parse("[[[[[1]]]]]", limits: limits)
        }
        #expect(throws: JSON.ParseError(message: "nested deeper than 4 levels", offset: 12)) {
            try JSON.parse("{\"a\":[{\"b\":[{}]}]}", limits: limits)
        }
        #expect(throws: JSON.ParseError(message: "document is longer than 1000 bytes", offset: 1000)) {
            try JSON.parse(String(repeating: " ", count: 1001) + "1", limits: limits)
        }
        // The default depth keeps a deep document off the stack.
        #expect(throws: JSON.ParseError(message: "nested deeper than 64 levels", offset: 64)) {
            try JSON.parse(String(repeating: "[", count: 500_000))
        }
        let error = try #require(throws: JSON.ParseError.self) { try JSON.parse("[1,,2]") }
        #expect(error.description == "unexpected \",\" at byte 3")
    }

    // MARK: The value type

    @Test("numbers keep their text, objects their order, duplicate keys read the last")
    func passThrough() throws {
        let text = "{\"z\":1.0e2,\"big\":123456789012345678901234567890,\"a\":-0,\"z\":[true,null,\"\\u0001\"]}"
        let value = try JSON.parse(text)
        #expect(value.serialized == text)
        #expect(value["z"] == [true, .null, "\u{01}"])
        #expect(value["big"]?.integer == nil && value["big"]?.double == 1.2345678901234568e29)
        #expect(value["a"]?.integer == 0)
        #expect(try JSON.parse("1.0e2").double == 100 && JSON.number("80").integer == 80)
    }

    @Test("literals, accessors and set build what call sites need")
    func building() {
        var answer: JSON = ["Address": "198.18.0.2/24", "Data": [:], "Ports": [80, 443], "Up": true]
        answer.set("Data", ["k": .null])
        answer.set("Gateway", .string("198.18.0.1"))
        #expect(answer.serialized == #"{"Address":"198.18.0.2/24","Data":{"k":null},"Ports":[80,443],"Up":true,"Gateway":"198.18.0.1"}"#)
        #expect(answer["Ports"]?[1]?.integer == 443 && answer["Ports"]?[2] == nil)
        #expect(answer["Up"]?.bool == true && answer["Address"]?.string == "198.18.0.2/24")
        #expect(answer["Data"]?["k"]?.isNull == true && answer["Missing"] == nil)
        #expect(answer.members?.map(\.0) == ["Address", "Data", "Ports", "Up", "Gateway"])
        #expect(JSON.string("a\"b\\c\n\u{1f}é").serialized == #""a\"b\\c\n\u001fé""#)
        #expect(JSON(-5).serialized == "-5")
    }
}

// MARK: Helpers

private func python(_ script: String, arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script] + arguments
    let output = Pipe(), stdin = Pipe()
    process.standardOutput = output
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 || !text.isEmpty else { throw OracleError("python3 exited \(process.terminationStatus)") }
    return text
}

private struct OracleError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A directory under /tmp removed when the test ends.
private final class TemporaryDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "netctl-json-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

private func bytes(hex: Substring) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return out
}
