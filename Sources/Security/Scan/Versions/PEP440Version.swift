/// Python's version order, PEP 440 as pypa/packaging's `Version` reads it:
/// `[v][N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with every spelling packaging
/// normalises (any case; `alpha`, `beta`, `c`, `pre`, `preview`; `rev`, `r`, `-N` for post;
/// `-`, `_` or `.` around the pre, post and dev parts or none; implicit 0 numbers;
/// surrounding white space). Release numbers compare with trailing zeros dropped
/// (`1.0` == `1.0.0`); `1.0.dev1 < 1.0a1 < 1.0 < 1.0+local < 1.0.post1`; local parts
/// compare numbers above words.
///
/// nil for what packaging raises InvalidVersion on (legacy versions like `2.0-beta-x`).
/// Beyond ASCII, packaging's case-insensitive regex also lets through a few look-alike
/// letters (`ı`, `ſ`, `K`); those are not PEP 440 versions and are nil here.
public enum PEP440Version {
    public static func compare(_ a: String, _ b: String) -> Int? {
        withVersionBytes(a, b) { a, b in
            guard let x = Parsed(a), let y = Parsed(b) else { return nil }
            return order(x, a, y, b)
        }
    }

    /// Where the parts of a version are; a number is a range of digits, empty for an
    /// implicit 0.
    struct Parsed {
        var epoch = 0..<0
        var release = 0..<0       // digits and dots
        var preKind: UInt8 = 0    // 0 a, 1 b, 2 rc: packaging compares the letters so
        var pre: Range<Int>? = nil
        var post: Range<Int>? = nil
        var dev: Range<Int>? = nil
        var local: Range<Int>? = nil   // segments and their separators, after `+`

        init?(_ s: VersionBytes) {
            var i = skipWhitespace(s, 0)
            if i < s.count, s[i] | 0x20 == 0x76 { i += 1 }   // v
            var digits = s.digitsEnd(from: i, to: s.count)
            guard digits > i else { return nil }
            if digits < s.count, s[digits] == 0x21 {   // !
                epoch = i..<digits
                i = digits + 1
                digits = s.digitsEnd(from: i, to: s.count)
                guard digits > i else { return nil }
            }
            let releaseStart = i
            i = digits
            while i + 1 < s.count, s[i] == 0x2E, s[i + 1].isASCIIDigit {
                i = s.digitsEnd(from: i + 1, to: s.count)
            }
            release = releaseStart..<i

            // Each optional part: its separator is taken only when the part follows.
            var at = skipSeparator(s, i)
            if let (kind, end) = preKeyword(s, at) {
                preKind = kind
                let (n, next) = number(s, end)
                pre = n; i = next
            }
            if i + 1 < s.count, s[i] == 0x2D, s[i + 1].isASCIIDigit {
                let end = s.digitsEnd(from: i + 1, to: s.count)
                post = i + 1..<end
                i = end
            } else {
                at = skipSeparator(s, i)
                if let end = postKeyword(s, at) {
                    let (n, next) = number(s, end)
                    post = n; i = next
                }
            }
            at = skipSeparator(s, i)
            if word(s, at, "dev") {
                let (n, next) = number(s, at + 3)
                dev = n; i = next
            }
            if i < s.count, s[i] == 0x2B {   // +local: alphanumeric segments, one separator between
                let start = i + 1
                i = start
                while true {
                    let segment = i
                    while i < s.count, s[i].isASCIIAlphanumeric { i += 1 }
                    guard i > segment else { return nil }
                    guard i + 1 < s.count, isSeparator(s[i]), s[i + 1].isASCIIAlphanumeric else { break }
                    i += 1
                }
                local = start..<i
            }
            guard skipWhitespace(s, i) == s.count else { return nil }
        }
    }

    @inline(__always)
    static func isSeparator(_ c: UInt8) -> Bool { c == 0x2D || c == 0x5F || c == 0x2E }

    @inline(__always)
    static func skipSeparator(_ s: VersionBytes, _ i: Int) -> Int {
        i < s.count && isSeparator(s[i]) ? i + 1 : i
    }

    /// The part's number: an optional separator, then optional digits.
    @inline(__always)
    static func number(_ s: VersionBytes, _ i: Int) -> (Range<Int>, Int) {
        let start = skipSeparator(s, i)
        let end = s.digitsEnd(from: start, to: s.count)
        return (start..<end, end)
    }

    /// Whether `word` (lower case) is at `i`, in any case.
    @inline(__always)
    static func word(_ s: VersionBytes, _ i: Int, _ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount, p = word.utf8Start
        guard i + n <= s.count else { return false }
        for k in 0..<n where s[i + k].asciiLowercased != p[k] { return false }
        return true
    }

    /// The pre-release word at `i` (`alpha|a|beta|b|preview|pre|c|rc`): its kind and end.
    /// The longer spelling first, as the regex's order of alternatives does; where the
    /// longer fails, what follows the shorter could never be valid, so no backtracking.
    static func preKeyword(_ s: VersionBytes, _ i: Int) -> (UInt8, Int)? {
        guard i < s.count else { return nil }
        switch s[i].asciiLowercased {
        case 0x61: return (0, word(s, i, "alpha") ? i + 5 : i + 1)
        case 0x62: return (1, word(s, i, "beta") ? i + 4 : i + 1)
        case 0x63: return (2, i + 1)
        case 0x70: return word(s, i, "preview") ? (2, i + 7) : word(s, i, "pre") ? (2, i + 3) : nil
        case 0x72: return word(s, i, "rc") ? (2, i + 2) : nil
        default: return nil
        }
    }

    /// The end of the post-release word at `i` (`post|rev|r`).
    static func postKeyword(_ s: VersionBytes, _ i: Int) -> Int? {
        guard i < s.count else { return nil }
        switch s[i].asciiLowercased {
        case 0x70: return word(s, i, "post") ? i + 4 : nil
        case 0x72: return word(s, i, "rev") ? i + 3 : i + 1
        default: return nil
        }
    }

    /// The length of the white space character (Python's `\s`, str.isspace) at `i`, or 0.
    static func whitespaceLength(_ s: VersionBytes, _ i: Int) -> Int {
        let c = s[i]
        if (0x09...0x0D).contains(c) || (0x1C...0x20).contains(c) { return 1 }
        let rest = s.count - i
        switch c {
        case 0xC2 where rest >= 2 && (s[i + 1] == 0x85 || s[i + 1] == 0xA0):
            return 2   // U+0085, U+00A0
        case 0xE1 where rest >= 3 && s[i + 1] == 0x9A && s[i + 2] == 0x80:
            return 3   // U+1680
        case 0xE2 where rest >= 3 && s[i + 1] == 0x80 && ((0x80...0x8A).contains(s[i + 2]) || s[i + 2] == 0xA8 || s[i + 2] == 0xA9 || s[i + 2] == 0xAF):
            return 3   // U+2000…U+200A, U+2028, U+2029, U+202F
        case 0xE2 where rest >= 3 && s[i + 1] == 0x81 && s[i + 2] == 0x9F:
            return 3   // U+205F
        case 0xE3 where rest >= 3 && s[i + 1] == 0x80 && s[i + 2] == 0x80:
            return 3   // U+3000
        default:
            return 0
        }
    }

    static func skipWhitespace(_ s: VersionBytes, _ start: Int) -> Int {
        var i = start
        while i < s.count {
            let n = whitespaceLength(s, i)
            if n == 0 { break }
            i += n
        }
        return i
    }

    /// packaging's comparison key, taken part by part: epoch, release, pre (a dev release
    /// with neither pre nor post sorts before any pre), post, dev, local.
    static func order(_ x: Parsed, _ a: VersionBytes, _ y: Parsed, _ b: VersionBytes) -> Int {
        var r = compareDigits(a, x.epoch, b, y.epoch)
        if r != 0 { return r }
        r = compareRelease(a, x.release, b, y.release)
        if r != 0 { return r }

        // -1: below every pre-release, 0: a pre-release, 1: above every pre-release.
        func preRank(_ v: Parsed) -> Int { v.pre != nil ? 0 : (v.post == nil && v.dev != nil ? -1 : 1) }
        let px = preRank(x), py = preRank(y)
        if px != py { return px < py ? -1 : 1 }
        if let p = x.pre, let q = y.pre {
            if x.preKind != y.preKind { return x.preKind < y.preKind ? -1 : 1 }
            r = compareDigits(a, p, b, q)
            if r != 0 { return r }
        }
        r = compareOptional(a, x.post, b, y.post, missing: -1)
        if r != 0 { return r }
        r = compareOptional(a, x.dev, b, y.dev, missing: 1)
        if r != 0 { return r }
        switch (x.local, y.local) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case let (p?, q?): return compareLocal(a, p, b, q)
        }
    }

    /// Two optional numbers, a missing one being below (`missing` -1) or above (1) any.
    @inline(__always)
    static func compareOptional(_ a: VersionBytes, _ p: Range<Int>?, _ b: VersionBytes, _ q: Range<Int>?, missing: Int) -> Int {
        switch (p, q) {
        case (nil, nil): return 0
        case (nil, _): return missing
        case (_, nil): return -missing
        case let (p?, q?): return compareDigits(a, p, b, q)
        }
    }

    /// Release numbers one by one, the shorter padded with zeros: the same as packaging's
    /// comparison with trailing zeros dropped, as no number is below zero.
    static func compareRelease(_ a: VersionBytes, _ ra: Range<Int>, _ b: VersionBytes, _ rb: Range<Int>) -> Int {
        var i = ra.lowerBound, j = rb.lowerBound
        while i < ra.upperBound || j < rb.upperBound {
            let ei = a.digitsEnd(from: i, to: ra.upperBound), ej = b.digitsEnd(from: j, to: rb.upperBound)
            let r = compareDigits(a, i..<ei, b, j..<ej)
            if r != 0 { return r }
            i = min(ei + 1, ra.upperBound); j = min(ej + 1, rb.upperBound)
        }
        return 0
    }

    /// Local segments one by one: numbers as numbers and above words, words in lower case
    /// byte-wise; when one runs out first, it is lower.
    static func compareLocal(_ a: VersionBytes, _ ra: Range<Int>, _ b: VersionBytes, _ rb: Range<Int>) -> Int {
        var i = ra.lowerBound, j = rb.lowerBound
        while i < ra.upperBound, j < rb.upperBound {
            var ei = i, ej = j
            var numericA = true, numericB = true
            while ei < ra.upperBound, !isSeparator(a[ei]) { numericA = numericA && a[ei].isASCIIDigit; ei += 1 }
            while ej < rb.upperBound, !isSeparator(b[ej]) { numericB = numericB && b[ej].isASCIIDigit; ej += 1 }
            if numericA != numericB { return numericA ? 1 : -1 }
            if numericA {
                let r = compareDigits(a, i..<ei, b, j..<ej)
                if r != 0 { return r }
            } else {
                var p = i, q = j
                while p < ei, q < ej {
                    let c = a[p].asciiLowercased, d = b[q].asciiLowercased
                    if c != d { return c < d ? -1 : 1 }
                    p += 1; q += 1
                }
                let la = ei - i, lb = ej - j
                if la != lb { return la < lb ? -1 : 1 }
            }
            i = ei + 1; j = ej + 1
        }
        let moreA = i < ra.upperBound, moreB = j < rb.upperBound
        return moreA == moreB ? 0 : (moreA ? 1 : -1)
    }
}
