/// Debian's version order, as `dpkg --compare-versions` has it (deb-version(5)):
/// `[epoch:]upstream[-revision]`, the epoch compared as a number, then upstream, then
/// revision, each by dpkg's verrevcmp.
///
/// A string is a version exactly when dpkg's parser accepts it without an error: dpkg only
/// warns about an upstream part not starting with a digit or an unusual character, and
/// still compares such versions, so they compare here too. The one difference: dpkg reads
/// an empty string as the blank version, here it is not a version (nil).
public enum DebianVersion {
    public static func compare(_ a: String, _ b: String) -> Int? {
        withVersionBytes(a, b) { a, b in
            guard let x = Parts(a), let y = Parts(b) else { return nil }
            if x.epoch != y.epoch { return x.epoch < y.epoch ? -1 : 1 }
            let upstream = verrevcmp(a, x.upstream, b, y.upstream)
            if upstream != 0 { return upstream }
            return verrevcmp(a, x.revision, b, y.revision)
        }
    }

    /// Where the three parts are, as dpkg's parseversion splits them.
    struct Parts {
        var epoch: Int
        var upstream: Range<Int>
        var revision: Range<Int>

        init?(_ s: VersionBytes) {
            // Blanks (space, tab) may surround the version, not split it.
            var start = 0, end = s.count
            while start < end, s[start] == 0x20 || s[start] == 0x09 { start += 1 }
            guard start < end else { return nil }
            var stop = start
            while stop < end, s[stop] != 0x20, s[stop] != 0x09 {
                if s[stop] == 0 { return nil }   // dpkg never sees past a NUL
                stop += 1
            }
            for i in stop..<end where s[i] != 0x20 && s[i] != 0x09 { return nil }
            end = stop

            var colon = start
            while colon < end, s[colon] != 0x3A { colon += 1 }
            if colon < end {
                guard let epoch = Self.epoch(s, start..<colon) else { return nil }
                self.epoch = epoch
                start = colon + 1
                guard start < end else { return nil }   // nothing after the colon
            } else {
                epoch = 0
            }
            var hyphen = end - 1
            while hyphen >= start, s[hyphen] != 0x2D { hyphen -= 1 }
            if hyphen >= start {
                guard hyphen + 1 < end else { return nil }   // "1.0-": empty revision
                upstream = start..<hyphen
                revision = hyphen + 1..<end
            } else {
                upstream = start..<end
                revision = end..<end
            }
            guard !upstream.isEmpty else { return nil }
        }

        /// The epoch as dpkg reads it with strtol: the whole text before the colon must be
        /// the number (C white space and a sign allowed before it), 0 ... INT_MAX.
        static func epoch(_ s: VersionBytes, _ range: Range<Int>) -> Int? {
            var i = range.lowerBound
            while i < range.upperBound, s[i] == 0x20 || (0x09...0x0D).contains(s[i]) { i += 1 }
            var negative = false
            if i < range.upperBound, s[i] == 0x2B || s[i] == 0x2D { negative = s[i] == 0x2D; i += 1 }
            let digits = i
            var value = 0
            while i < range.upperBound, s[i].isASCIIDigit {
                value = value * 10 + Int(s[i] - 0x30)
                if value > Int(Int32.max) { return nil }   // "epoch in version is too big"
                i += 1
            }
            guard i > digits, i == range.upperBound else { return nil }
            if negative && value != 0 { return nil }
            return value
        }
    }

    /// dpkg's weight of a non-digit: `~` before the end of the part, the end before
    /// letters, letters before everything else. A byte above 0x7F counts as dpkg's signed
    /// `char` makes it.
    @inline(__always)
    static func order(_ c: UInt8) -> Int {
        if c.isASCIIDigit { return 0 }
        if c.isASCIILetter { return Int(c) }
        if c == 0x7E { return -1 }
        if c == 0 { return 0 }
        return Int(Int8(bitPattern: c)) + 256
    }

    /// dpkg's verrevcmp over `a[ra]` and `b[rb]`: alternately a run of non-digits compared
    /// by `order`, and a run of digits compared as a number.
    static func verrevcmp(_ a: VersionBytes, _ ra: Range<Int>, _ b: VersionBytes, _ rb: Range<Int>) -> Int {
        var i = ra.lowerBound, j = rb.lowerBound
        let ea = ra.upperBound, eb = rb.upperBound
        @inline(__always) func at(_ s: VersionBytes, _ k: Int, _ end: Int) -> UInt8 { k < end ? s[k] : 0 }
        while i < ea || j < eb {
            while (i < ea && !a[i].isASCIIDigit) || (j < eb && !b[j].isASCIIDigit) {
                let ac = order(at(a, i, ea)), bc = order(at(b, j, eb))
                if ac != bc { return ac < bc ? -1 : 1 }
                i += 1; j += 1
            }
            while i < ea, a[i] == 0x30 { i += 1 }
            while j < eb, b[j] == 0x30 { j += 1 }
            var firstDiff = 0
            while i < ea, j < eb, a[i].isASCIIDigit, b[j].isASCIIDigit {
                if firstDiff == 0, a[i] != b[j] { firstDiff = a[i] < b[j] ? -1 : 1 }
                i += 1; j += 1
            }
            if i < ea, a[i].isASCIIDigit { return 1 }
            if j < eb, b[j].isASCIIDigit { return -1 }
            if firstDiff != 0 { return firstDiff }
        }
        return 0
    }
}
