extension TrustTime {
    /// Parses an RFC 3339 date-time as both dialects write `expires`: TUF's
    /// `2030-01-01T00:00:00Z`, and what Go's `time.Time` marshals in Notary
    /// (`2116-07-03T17:56:36.027379879-05:00`: fractions and any offset). Fractions are
    /// dropped, so an expiry is never read as later than it is.
    public init(rfc3339 text: String) throws(TrustError) {
        let bytes = Array(text.utf8)
        func fail(_ what: String) -> TrustError { .malformed("time \"\(text)\": \(what), expected RFC 3339 as 2030-01-31T23:59:59Z") }
        func number(_ start: Int, _ count: Int) throws(TrustError) -> Int64 {
            guard start + count <= bytes.count else { throw fail("too short") }
            var value: Int64 = 0
            for byte in bytes[start..<start + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw fail("a digit expected at \(start)") }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func expect(_ character: Character, at index: Int) throws(TrustError) {
            guard index < bytes.count, bytes[index] == character.asciiValue! else { throw fail("'\(character)' expected at \(index)") }
        }
        let year = try number(0, 4)
        try expect("-", at: 4)
        let month = try number(5, 2)
        try expect("-", at: 7)
        let day = try number(8, 2)
        try expect("T", at: 10)
        let hour = try number(11, 2)
        try expect(":", at: 13)
        let minute = try number(14, 2)
        try expect(":", at: 16)
        let second = try number(17, 2)
        guard (1...12).contains(month) else { throw fail("month \(month)") }
        guard (1...Self.days(inMonth: month, year: year)).contains(day) else { throw fail("day \(day)") }
        guard hour < 24, minute < 60, second < 60 else { throw fail("time of day out of range") }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start else { throw fail("digits expected after '.'") }
        }
        guard index < bytes.count else { throw fail("no time zone") }
        var offset: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            let hours = try number(index + 1, 2)
            try expect(":", at: index + 3)
            let minutes = try number(index + 4, 2)
            guard hours < 24, minutes < 60 else { throw fail("offset out of range") }
            offset = sign * (hours * 3600 + minutes * 60)
            index += 6
        default:
            throw fail("time zone expected at \(index)")
        }
        guard index == bytes.count else { throw fail("text after the time zone") }
        let local = Self.daysSinceEpoch(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second
        self.init(seconds: local - offset)
    }

    /// UTC with whole seconds: what python-tuf writes (`%Y-%m-%dT%H:%M:%SZ`, the only form
    /// it reads) and what Go's `time.Time` marshals for a UTC time without fractions, so
    /// both dialects' tools read it. Dates beyond year 9999 are written as its last second,
    /// which neither tool could otherwise read.
    public func rfc3339(dialect: TrustDialect) -> String {
        let clamped = Swift.min(Swift.max(seconds, Self.firstSecond), Self.lastSecond)
        let days = clamped >= 0 ? clamped / 86400 : (clamped - 86399) / 86400
        let secondOfDay = clamped - days * 86400
        let (year, month, day) = Self.civil(daysSinceEpoch: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: Swift.max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    private static let firstSecond: Int64 = daysSinceEpoch(year: 0, month: 1, day: 1) * 86400
    private static let lastSecond: Int64 = daysSinceEpoch(year: 10000, month: 1, day: 1) * 86400 - 1

    private static func days(inMonth month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil and civil_from_days.
    private static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    private static func civil(daysSinceEpoch days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
