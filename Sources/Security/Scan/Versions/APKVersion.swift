/// Alpine's version order, as apk-tools (3.x, src/version.c) has it:
/// `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`, read as a sequence of tokens
/// compared one by one. Suffixes `_alpha < _beta < _pre < _rc <` (none) `< _cvs < _svn <
/// _git < _hg < _p`; a part with a leading zero (`8.2.001`) compares as a string.
///
/// nil when either string is not a version apk accepts (`apk version --check`); apk itself
/// still orders such strings by their valid prefix, which `order` keeps for the tests.
public enum APKVersion {
    public static func compare(_ a: String, _ b: String) -> Int? {
        withVersionBytes(a, b) { a, b in
            guard isValid(a), isValid(b) else { return nil }
            return order(a, b)
        }
    }

    /// Whether apk accepts `version` (apk_version_validate).
    static func isValid(_ version: String) -> Bool {
        var version = version
        return version.withUTF8 { isValid($0) }
    }

    /// apk's own answer for two strings, valid or not (apk_version_compare).
    static func order(_ a: String, _ b: String) -> Int {
        withVersionBytes(a, b) { order($0, $1) }
    }

    // The token kinds in the order apk gives them: a version may only move forward through
    // them, and when one version ends where the other goes on, the kinds decide.
    enum Kind: UInt8, Comparable {
        case initialDigits, digits, letter, suffix, suffixNumber, commitHash, revision, end, invalid
        static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    // `_alpha` … `_rc` sort before the version without a suffix (`none`), the rest after.
    enum Suffix: UInt8 {
        case invalid, alpha, beta, pre, rc, none, cvs, svn, git, hg, p
    }

    struct Token {
        var kind = Kind.initialDigits
        var suffix = Suffix.invalid
        var number: UInt64 = 0
        var value: Range<Int> = 0..<0
        var position = 0

        /// The first token: the initial digits.
        init(_ s: VersionBytes) { parseDigits(s) }

        mutating func parseDigits(_ s: VersionBytes) {
            let start = position
            // apk reads the number into a uint64_t that wraps, and so does this.
            var n: UInt64 = 0
            while position < s.count, s[position].isASCIIDigit {
                n = n &* 10 &+ UInt64(s[position] - 0x30)
                position += 1
            }
            number = n
            value = start..<position
            if value.isEmpty { kind = .invalid }
        }

        /// Moves to the next token, `.invalid` when it may not follow this one.
        mutating func next(_ s: VersionBytes) {
            guard position < s.count else { kind = .end; return }
            let c = s[position]
            switch c {
            case 0x61...0x7A:   // a-z: one letter, right after the digits
                guard kind <= .digits else { kind = .invalid; return }
                value = position..<position + 1
                kind = .letter
                position += 1
            case 0x2E, 0x30...0x39:   // `.digits`, or the number of a suffix
                if c == 0x2E {
                    guard kind <= .digits else { kind = .invalid; return }
                    position += 1
                }
                switch kind {
                case .initialDigits, .digits: kind = .digits
                case .suffix: kind = .suffixNumber
                default: kind = .invalid; return
                }
                parseDigits(s)
            case 0x5F:   // `_suffix`
                guard kind <= .suffixNumber else { kind = .invalid; return }
                position += 1
                let start = position
                while position < s.count, s[position] &- 0x61 < 26 { position += 1 }
                value = start..<position
                suffix = Self.suffix(s, value)
                kind = suffix == .invalid ? .invalid : .suffix
            case 0x7E:   // `~hash`
                guard kind < .commitHash else { kind = .invalid; return }
                position += 1
                let start = position
                while position < s.count, s[position].isASCIIDigit || s[position] &- 0x61 < 6 { position += 1 }
                value = start..<position
                kind = value.isEmpty ? .invalid : .commitHash
            case 0x2D:   // `-rN`
                guard kind < .revision, position + 1 < s.count, s[position + 1] == 0x72 else {
                    kind = .invalid; return
                }
                position += 2
                kind = .revision
                parseDigits(s)
            default:
                kind = .invalid
            }
        }

        static func suffix(_ s: VersionBytes, _ r: Range<Int>) -> Suffix {
            func named(_ name: StaticString, _ suffix: Suffix) -> Suffix {
                guard r.count == name.utf8CodeUnitCount else { return .invalid }
                let p = name.utf8Start
                for k in 0..<r.count where s[r.lowerBound + k] != p[k] { return .invalid }
                return suffix
            }
            guard !r.isEmpty else { return .invalid }
            switch s[r.lowerBound] {
            case 0x61: return named("alpha", .alpha)
            case 0x62: return named("beta", .beta)
            case 0x63: return named("cvs", .cvs)
            case 0x67: return named("git", .git)
            case 0x68: return named("hg", .hg)
            case 0x70: return r.count > 1 ? named("pre", .pre) : .p
            case 0x72: return named("rc", .rc)
            case 0x73: return named("svn", .svn)
            default: return .invalid
            }
        }
    }

    static func isValid(_ s: VersionBytes) -> Bool {
        var t = Token(s)
        while t.kind < .end { t.next(s) }
        return t.kind == .end
    }

    /// Two tokens of the same kind (apk's token_cmp).
    @inline(__always)
    static func compare(_ x: Token, _ a: VersionBytes, _ y: Token, _ b: VersionBytes) -> Int {
        let p: UInt64, q: UInt64
        switch x.kind {
        case .digits where a[x.value.lowerBound] == 0x30 || b[y.value.lowerBound] == 0x30:
            return compareBytes(a, x.value, b, y.value)
        case .digits, .initialDigits, .suffixNumber, .revision:
            p = x.number; q = y.number
        case .letter:
            p = UInt64(a[x.value.lowerBound]); q = UInt64(b[y.value.lowerBound])
        case .suffix:
            p = UInt64(x.suffix.rawValue); q = UInt64(y.suffix.rawValue)
        default:
            return compareBytes(a, x.value, b, y.value)
        }
        return p == q ? 0 : (p < q ? -1 : 1)
    }

    static func order(_ a: VersionBytes, _ b: VersionBytes) -> Int {
        var x = Token(a), y = Token(b)
        while x.kind == y.kind, x.kind < .end {
            let r = compare(x, a, y, b)
            if r != 0 { return r }
            x.next(a); y.next(b)
        }
        if x.kind == y.kind { return 0 }
        // The versions agree as far as both go: the one that goes on is higher, unless
        // what it goes on with is a pre-release suffix.
        if x.kind == .suffix, x.suffix.rawValue < Suffix.none.rawValue { return -1 }
        if y.kind == .suffix, y.suffix.rawValue < Suffix.none.rawValue { return 1 }
        if x.kind > y.kind { return -1 }
        if y.kind > x.kind { return 1 }
        return 0
    }
}
