/// RPM's version order over `[epoch:]version[-release]`, as rpm's Lua `rpm.vercmp` (and
/// rpmverCmp) has it: a missing epoch is 0, then version, then release, each by
/// rpmvercmp; a missing release sorts before any release (`1.0` < `1.0-1`).
///
/// rpmvercmp compares alternating runs of digits (as numbers) and of ASCII letters
/// (byte-wise), a number above letters; other characters only separate runs. `~` sorts
/// before everything, even the end (`1.0~rc1` < `1.0`); `^` sorts after the end but before
/// anything else (`1.0` < `1.0^git1` < `1.0.1`).
///
/// Every non-empty string is an RPM version; nil for an empty one (or one holding a NUL,
/// which rpm, reading C strings, could never be given).
public enum RPMVersion {
    public static func compare(_ a: String, _ b: String) -> Int? {
        withVersionBytes(a, b) { a, b in
            guard let x = EVR(a), let y = EVR(b) else { return nil }
            // Epochs are digits only, where rpmvercmp is a numeric comparison.
            let epoch = compareDigits(a, x.epoch, b, y.epoch)
            if epoch != 0 { return epoch }
            let version = rpmvercmp(a, x.version, b, y.version)
            if version != 0 { return version }
            switch (x.release, y.release) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case let (r?, s?): return rpmvercmp(a, r, b, s)
            }
        }
    }

    /// rpm's parseEVR: the epoch is the leading digits when a colon follows them (empty
    /// when there is none: 0), the release whatever follows the last hyphen.
    struct EVR {
        var epoch: Range<Int>
        var version: Range<Int>
        var release: Range<Int>?

        init?(_ s: VersionBytes) {
            guard !s.isEmpty else { return nil }
            let digits = s.digitsEnd(from: 0, to: s.count)
            var hyphen: Int? = nil
            for i in digits..<s.count {
                if s[i] == 0 { return nil }
                if s[i] == 0x2D { hyphen = i }
            }
            let versionEnd = hyphen ?? s.count
            if digits < s.count, s[digits] == 0x3A {
                epoch = 0..<digits
                version = digits + 1..<versionEnd
            } else {
                epoch = 0..<0
                version = 0..<versionEnd
            }
            release = hyphen.map { $0 + 1..<s.count }
        }
    }

    /// rpmvercmp over `a[ra]` and `b[rb]`.
    static func rpmvercmp(_ a: VersionBytes, _ ra: Range<Int>, _ b: VersionBytes, _ rb: Range<Int>) -> Int {
        if ra.count == rb.count, compareBytes(a, ra, b, rb) == 0 { return 0 }
        var i = ra.lowerBound, j = rb.lowerBound
        let ea = ra.upperBound, eb = rb.upperBound
        @inline(__always) func isSeparator(_ c: UInt8) -> Bool { !c.isASCIIAlphanumeric && c != 0x7E && c != 0x5E }
        while i < ea || j < eb {
            while i < ea, isSeparator(a[i]) { i += 1 }
            while j < eb, isSeparator(b[j]) { j += 1 }
            let c = i < ea ? a[i] : 0, d = j < eb ? b[j] : 0
            if c == 0x7E || d == 0x7E {
                if c != 0x7E { return 1 }
                if d != 0x7E { return -1 }
                i += 1; j += 1
                continue
            }
            if c == 0x5E || d == 0x5E {
                if i == ea { return -1 }
                if j == eb { return 1 }
                if c != 0x5E { return 1 }
                if d != 0x5E { return -1 }
                i += 1; j += 1
                continue
            }
            if i == ea || j == eb { break }
            let numeric = c.isASCIIDigit
            let si = i, sj = j
            if numeric {
                while i < ea, a[i].isASCIIDigit { i += 1 }
                while j < eb, b[j].isASCIIDigit { j += 1 }
            } else {
                while i < ea, a[i].isASCIILetter { i += 1 }
                while j < eb, b[j].isASCIILetter { j += 1 }
            }
            // A number against letters (an empty run of digits): the number is newer.
            if j == sj { return numeric ? 1 : -1 }
            let r = numeric ? compareDigits(a, si..<i, b, sj..<j) : compareBytes(a, si..<i, b, sj..<j)
            if r != 0 { return r }
        }
        if i >= ea && j >= eb { return 0 }
        return i >= ea ? -1 : 1
    }
}
