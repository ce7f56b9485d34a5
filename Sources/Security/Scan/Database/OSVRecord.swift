import FoundationEssentials

/// One OSV file as it is written (https://ossf.github.io/osv-schema/): only the fields the
/// database keeps or evaluates. Unknown fields are ignored, as the schema asks of clients;
/// the fields read are checked by `OSVAdvisory.init(decoding:file:)`.
struct OSVRecord: Decodable {
    var id: String?
    var modified: String?
    var published: String?
    var withdrawn: String?
    var aliases: [String]?
    var summary: String?
    var severity: [OSVSeverity]?
    var affected: [OSVAffected]?
    var references: [OSVReference]?
    var database_specific: OSVRatings?
}

struct OSVSeverity: Decodable {
    var type: String
    var score: String
}

struct OSVReference: Decodable {
    var type: String?
    var url: String?
}

struct OSVAffected: Decodable {
    var package: OSVPackage?
    var severity: [OSVSeverity]?
    var ranges: [OSVRange]?
    var versions: [String]?
    var ecosystem_specific: OSVRatings?
    var database_specific: OSVRatings?
}

struct OSVPackage: Decodable {
    var ecosystem: String?
    var name: String?
}

struct OSVRange: Decodable {
    var type: String?
    var events: [OSVEvent]?
}

/// `{"introduced": "1.0"}`: the keys an event has among the four OSV defines, kept in
/// order so that a second one can be named in the error.
struct OSVEvent: Decodable {
    var kinds: [(RangeEvent.Kind, String)]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        kinds = []
        for key in container.allKeys {
            guard let kind = RangeEvent.Kind(osv: key.stringValue) else { continue }
            kinds.append((kind, try container.decode(String.self, forKey: key)))
        }
    }
}

/// `database_specific` and `ecosystem_specific` are free-form: only a rating under
/// `severity`, `urgency` (Debian) or `priority` (Ubuntu) is read, and any other shape is
/// ignored, since databases put what they like there.
struct OSVRatings: Decodable {
    var rating: String?

    private enum Keys: String, CodingKey { case severity, urgency, priority }

    init(from decoder: any Decoder) throws {
        guard let container = try? decoder.container(keyedBy: Keys.self) else { return }
        for key in [Keys.severity, .urgency, .priority] {
            if let text = try? container.decodeIfPresent(String.self, forKey: key) {
                rating = text
                return
            }
        }
    }
}
