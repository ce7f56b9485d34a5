import DNS
import Testing

@Suite struct DNSMessageTests {
    /// `dig site.web A +edns` as bind9's dig sends it (ID 0x1234, RD, an OPT with a cookie).
    static let digQuery: [UInt8] = [
        0x12, 0x34, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        4, 0x53, 0x69, 0x54, 0x65, 3, 0x77, 0x65, 0x62, 0, // "SiTe.web" (0x20-mixed case)
        0x00, 0x01, 0x00, 0x01,
        0, 0x00, 0x29, 0x04, 0xD0, 0, 0, 0, 0, 0x00, 0x0C, 0x00, 0x0A, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
    ]

    @Test func aQueryIsReadInPlace() throws {
        let query = try Self.digQuery.withUnsafeBytes { try DNSQuery(parsing: $0) }
        #expect(query.id == 0x1234)
        #expect(String(decoding: query.name, as: UTF8.self) == "site.web")
        #expect(query.type == DNSType.a && query.klass == DNSClass.internet)
        #expect(query.ednsPayload == 1232)
        #expect(query.udpLimit == 1232)
        #expect(query.questionEnd == 26)
    }

    @Test func anAnswerEchoesTheQuestionAndPointsAtIt() throws {
        var writer = DNSAnswerWriter()
        let bytes = try Self.digQuery.withUnsafeBytes { raw in
            let query = try DNSQuery(parsing: raw)
            writer.start(query, message: raw, rcode: DNSResponseCode.noError, limit: query.udpLimit)
            writer.address([198, 18, 0, 2], ttl: 600)
            writer.address([198, 18, 0, 3], ttl: 600)
            return writer.finish()
        }
        let answer = try DNSMessage(decoding: bytes)
        #expect(answer.id == 0x1234)
        #expect(answer.flags & DNSFlags.response != 0 && answer.flags & DNSFlags.recursionAvailable != 0)
        #expect(answer.flags & DNSFlags.authoritative == 0 && answer.flags & DNSFlags.recursionDesired != 0)
        #expect(answer.questions.map(\.name.description) == ["SiTe.web."])
        #expect(answer.answers.map(\.data) == [.ipv4([198, 18, 0, 2]), .ipv4([198, 18, 0, 3])])
        #expect(answer.answers.allSatisfy { $0.name.description == "SiTe.web." && $0.ttl == 600 })
        #expect(answer.additionals.map(\.type) == [DNSType.opt])
        #expect(answer.additionals.first?.klass == 1232)
        // The owner of each answer is the 2-byte pointer to the question (offset 12).
        #expect(bytes[26] == 0xC0 && bytes[27] == 0x0C)
    }

    @Test func answersThatDoNotFitAreTruncated() throws {
        var writer = DNSAnswerWriter()
        var plain = Self.digQuery
        plain.removeLast(23) // no OPT: 512 bytes at most
        plain[11] = 0
        let bytes = try plain.withUnsafeBytes { raw in
            let query = try DNSQuery(parsing: raw)
            writer.start(query, message: raw, rcode: DNSResponseCode.noError, limit: query.udpLimit)
            for index in 0..<100 { writer.address([32, 1, 13, 184] + [UInt8](repeating: 0, count: 11) + [UInt8(index)], ttl: 600) }
            return writer.finish()
        }
        #expect(bytes.count <= 512)
        let answer = try DNSMessage(decoding: bytes)
        #expect(answer.isTruncated)
        #expect(answer.answers.count == (512 - 26) / 28)
    }

    @Test func messagesRoundTripWithCompression() throws {
        let name = DNSMessage.Name("www.example.test")!
        let message = DNSMessage(id: 7, flags: 0x8180, questions: [.init(name: name, type: DNSType.a)], answers: [
            .init(name: name, type: DNSType.cname, ttl: 30, data: .name(DNSMessage.Name("Site.Example.test")!)),
            .init(name: DNSMessage.Name("site.example.test")!, type: DNSType.a, ttl: 30, data: .ipv4([198, 18, 0, 9])),
            .init(name: DNSMessage.Name("site.example.test")!, type: DNSType.aaaa, ttl: 30, data: .ipv6([0x20, 1, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [9])),
            .init(name: DNSMessage.Name("9.0.18.198.in-addr.arpa")!, type: DNSType.ptr, ttl: 30, data: .name(DNSMessage.Name("site.example.test")!)),
            .init(name: name, type: DNSType.txt, ttl: 30, data: .opaque([5, 104, 101, 108, 108, 111])),
        ], additionals: [.init(name: DNSMessage.Name("")!, type: DNSType.opt, klass: 1232, ttl: 0, data: .opaque([]))])
        let bytes = message.encoded()
        #expect(try DNSMessage(decoding: bytes) == message)
        // Each spelling of "example" is written once; later names point at it (exact bytes:
        // a pointer keeps the case of what it stands for).
        for label in ["example", "Example"] {
            let needle = [UInt8(7)] + Array(label.utf8)
            let found = (0...(bytes.count - needle.count)).filter { Array(bytes[$0..<($0 + needle.count)]) == needle }
            #expect(found.count == 1, "\(label)")
        }
    }

    @Test func malformedMessagesAreErrorsNotTraps() {
        let header: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
        let cases: [(String, [UInt8], DNSParseError)] = [
            ("empty", [], .truncated(at: 0)),
            ("half a header", Array(header.prefix(7)), .truncated(at: 6)),
            ("no question", header, .tooManyRecords(1)),
            ("a pointer to itself", header + [0xC0, 0x0C, 0, 1, 0, 1], .badPointer(at: 12)),
            ("a forward pointer", header + [0xC0, 0x10, 0, 1, 0, 1, 1, 0x61, 0], .badPointer(at: 12)),
            ("a label past the end", header + [10, 0x61, 0x62, 0, 0], .truncated(at: 12)),
            ("a reserved label type", header + [0x41, 0x61, 0, 0, 1, 0, 1], .reservedLabelType(at: 12)),
            ("a label of 64", header + [0x40] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1], .reservedLabelType(at: 12)),
            ("a name of 257", header + Array(repeatElement([UInt8(63)] + [UInt8](repeating: 0x61, count: 63), count: 4).joined()) + [0, 0, 1, 0, 1],
             .nameTooLong(at: 12)),
            ("65535 answers claimed", [0, 1, 0x81, 0x80, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0], .tooManyRecords(65535)),
            ("an rdata past the end", [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 1, 2, 3, 4], .truncated(at: 23)),
        ]
        for (label, bytes, expected) in cases {
            #expect(throws: expected, "\(label)") { try DNSMessage(decoding: bytes) }
        }
        // The query reader refuses the same, and more than one question.
        #expect(throws: DNSParseError.self) { try (header + [0xC0, 0x0C, 0, 1, 0, 1]).withUnsafeBytes { try DNSQuery(parsing: $0) } }
        var two = header + [1, 0x61, 0, 0, 1, 0, 1]
        two[5] = 2
        #expect(throws: DNSParseError.tooManyRecords(2)) { try two.withUnsafeBytes { try DNSQuery(parsing: $0) } }
    }

    @Test func aLoopThroughTwoPointersIsRefused() {
        // Answer 1's owner points at answer 2's, which points back at answer 1's.
        let bytes: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 2, 0, 0, 0, 0,
                              0xC0, 0x18, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0,
                              0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0]
        #expect(throws: DNSParseError.badPointer(at: 12)) { try DNSMessage(decoding: bytes) }
    }

    @Test func reverseNamesBecomeAddresses() {
        func reverse(_ text: String) -> [UInt8]? { IPText.reverseAddress(Array(text.utf8)) }
        #expect(reverse("2.0.18.198.in-addr.arpa") == [198, 18, 0, 2])
        #expect(reverse("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa") == IPText.ipv6Bytes("2001:db8::2"))
        #expect(reverse("0.18.198.in-addr.arpa") == nil)
        #expect(reverse("256.0.18.198.in-addr.arpa") == nil)
        #expect(reverse("02.0.18.198.in-addr.arpa") == nil)
        #expect(reverse("g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa") == nil)
    }

    @Test func theIndexAnswersOnlyOnSharedNetworks() {
        let web = NetworkTable(name: "Web", records: [
            NameRecord(names: ["site", "www"], ipv4: "198.18.0.2", ipv6: "2001:db8::2", sandbox: "a"),
            NameRecord(names: ["db", "www"], ipv4: "198.18.0.3", ipv6: nil, sandbox: "b"),
        ])
        let remote = NetworkTable(name: "Web", records: [NameRecord(names: ["far"], ipv4: "198.18.0.9", ipv6: nil, sandbox: nil)])
        let other = NetworkTable(name: "other", records: [NameRecord(names: ["lonely"], ipv4: "198.18.1.2", ipv6: nil, sandbox: "c")])
        let index = NameIndex(local: ["n1": web, "n2": other], remote: ["n1": remote])
        func a(_ name: String, _ sandbox: String, _ type: UInt16 = DNSType.a) -> [String]? {
            index.addresses(of: Array(name.utf8), type: type, sandbox: sandbox)?.map(IPText.text)
        }
        #expect(a("site", "b") == ["198.18.0.2"])
        #expect(a("www", "b") == ["198.18.0.2", "198.18.0.3"])
        #expect(a("site.web", "a", DNSType.aaaa) == ["2001:db8::2"])
        #expect(a("db", "a", DNSType.aaaa) == [])
        #expect(a("far", "a") == ["198.18.0.9"])
        #expect(a("lonely", "a") == nil)
        #expect(a("site", "c") == nil)
        #expect(a("site", "nobody") == nil)
        #expect(index.pointer(for: Array("3.0.18.198.in-addr.arpa".utf8), sandbox: "a") == Array("db".utf8))
        #expect(index.pointer(for: Array("2.1.18.198.in-addr.arpa".utf8), sandbox: "a") == nil)
    }

    @Test func hostNameserversLeaveOutOnlyTheEmbeddedOne() {
        let text = "# generated\nsearch example.test\nnameserver 127.0.0.11\nnameserver 127.0.0.53\nnameserver\t198.18.9.53\nnameserver 2001:db8::53\nnameserver fe80::1%eth0\noptions ndots:0\n"
        #expect(Upstreams.fromResolvConf(text).map(\.text) == ["127.0.0.53:53", "198.18.9.53:53", "[2001:db8::53]:53"])
    }
}
