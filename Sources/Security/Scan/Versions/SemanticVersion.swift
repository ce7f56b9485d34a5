/// SemVer 2.0.0's precedence (semver.org §11): major, minor and patch as numbers; a
/// pre-release below its release, its identifiers compared one by one (numbers as numbers
/// and below words, words in ASCII order, more identifiers above fewer); build metadata
/// ignored. A leading `v` is tolerated (`v1.2.3`, as OSV's SEMVER ranges allow).
///
/// nil for anything else: `1.2`, `01.2.3`, `1.2.3-01`, empty identifiers.
public enum SemanticVersion {
    public static func compare(_ a: String, _ b: String) -> Int? {
        withVersionBytes(a, b) { a, b in
            guard let x = SemverParts(a, requireV: false, allowShorthand: false),
                  let y = SemverParts(b, requireV: false, allowShorthand: false) else { return nil }
            return SemverParts.order(x, a, y, b)
        }
    }
}

/// Where the parts of a semantic version are, as both SemVer and Go's x/mod/semver read
/// them (they differ only in the `v` and Go's `v1`/`v1.2` shorthands).
struct SemverParts {
    var major: Range<Int>
    var minor: Range<Int>        // empty for a Go shorthand: 0
    var patch: Range<Int>
    var prerelease: Range<Int>   // after the `-`; empty when there is none

    init?(_ s: VersionBytes, requireV: Bool, allowShorthand: Bool) {
        var i = 0
        if i < s.count, s[i] == 0x76 { i += 1 } else if requireV { return nil }
        guard let major = Self.number(s, &i) else { return nil }
        self.major = major
        if allowShorthand, i == s.count {
            minor = i..<i; patch = i..<i; prerelease = i..<i
            return
        }
        guard i < s.count, s[i] == 0x2E else { return nil }
        i += 1
        guard let minor = Self.number(s, &i) else { return nil }
        self.minor = minor
        if allowShorthand, i == s.count {
            patch = i..<i; prerelease = i..<i
            return
        }
        guard i < s.count, s[i] == 0x2E else { return nil }
        i += 1
        guard let patch = Self.number(s, &i) else { return nil }
        self.patch = patch
        prerelease = i..<i
        if i < s.count, s[i] == 0x2D {
            i += 1
            guard let end = Self.identifiers(s, from: i, numbersCanonical: true) else { return nil }
            prerelease = i..<end
            i = end
        }
        if i < s.count, s[i] == 0x2B {
            guard let end = Self.identifiers(s, from: i + 1, numbersCanonical: false) else { return nil }
            i = end
        }
        guard i == s.count else { return nil }
    }

    /// `0` or digits not starting with 0.
    static func number(_ s: VersionBytes, _ i: inout Int) -> Range<Int>? {
        let start = i
        i = s.digitsEnd(from: i, to: s.count)
        guard i > start, s[start] != 0x30 || i == start + 1 else { return nil }
        return start..<i
    }

    /// The end of dot-separated non-empty identifiers of `[0-9A-Za-z-]` from `start`
    /// (stopping at `+` or the end); in a pre-release, a number has no leading zero.
    static func identifiers(_ s: VersionBytes, from start: Int, numbersCanonical: Bool) -> Int? {
        var i = start
        while true {
            let identifier = i
            var numeric = true
            while i < s.count, s[i].isASCIIAlphanumeric || s[i] == 0x2D {
                numeric = numeric && s[i].isASCIIDigit
                i += 1
            }
            guard i > identifier else { return nil }
            if numbersCanonical, numeric, i - identifier > 1, s[identifier] == 0x30 { return nil }
            guard i < s.count, s[i] == 0x2E else { return i }
            i += 1
        }
    }

    static func order(_ x: SemverParts, _ a: VersionBytes, _ y: SemverParts, _ b: VersionBytes) -> Int {
        var r = compareDigits(a, x.major, b, y.major)
        if r != 0 { return r }
        r = compareDigits(a, x.minor, b, y.minor)
        if r != 0 { return r }
        r = compareDigits(a, x.patch, b, y.patch)
        if r != 0 { return r }
        switch (x.prerelease.isEmpty, y.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): return comparePrerelease(a, x.prerelease, b, y.prerelease)
        }
    }

    static func comparePrerelease(_ a: VersionBytes, _ ra: Range<Int>, _ b: VersionBytes, _ rb: Range<Int>) -> Int {
        var i = ra.lowerBound, j = rb.lowerBound
        while i < ra.upperBound, j < rb.upperBound {
            var ei = i, ej = j
            var numericA = true, numericB = true
            while ei < ra.upperBound, a[ei] != 0x2E { numericA = numericA && a[ei].isASCIIDigit; ei += 1 }
            while ej < rb.upperBound, b[ej] != 0x2E { numericB = numericB && b[ej].isASCIIDigit; ej += 1 }
            if numericA != numericB { return numericA ? -1 : 1 }
            let r = numericA ? compareDigits(a, i..<ei, b, j..<ej) : compareBytes(a, i..<ei, b, j..<ej)
            if r != 0 { return r }
            i = ei + 1; j = ej + 1
        }
        let moreA = i < ra.upperBound, moreB = j < rb.upperBound
        return moreA == moreB ? 0 : (moreA ? 1 : -1)
    }
}
