// What the six orderings share: they all read versions as ASCII bytes, and compare is
// called for every range event of every candidate advisory, so they read the strings'
// own UTF-8 storage in place rather than building substrings or arrays.

typealias VersionBytes = UnsafeBufferPointer<UInt8>

/// Runs `body` over the UTF-8 bytes of both strings; a native string is not copied.
@inline(__always)
func withVersionBytes<R>(_ a: String, _ b: String, _ body: (VersionBytes, VersionBytes) -> R) -> R {
    var a = a, b = b
    return a.withUTF8 { a in b.withUTF8 { b in body(a, b) } }
}

extension UInt8 {
    @inline(__always) var isASCIIDigit: Bool { self &- 0x30 < 10 }
    @inline(__always) var isASCIILetter: Bool { (self | 0x20) &- 0x61 < 26 }
    @inline(__always) var isASCIIAlphanumeric: Bool { isASCIIDigit || isASCIILetter }
    @inline(__always) var asciiLowercased: UInt8 { self &- 0x41 < 26 ? self | 0x20 : self }
}

extension VersionBytes {
    /// The end of the run of ASCII digits starting at `start`.
    @inline(__always)
    func digitsEnd(from start: Int, to end: Int) -> Int {
        var i = start
        while i < end, self[i].isASCIIDigit { i += 1 }
        return i
    }
}

/// -1, 0 or 1 as the number spelled by the digits `a[ra]` is lower than, equal to or
/// higher than that of `b[rb]`: any length (versions carry dates and hashes longer than
/// any integer type), leading zeros ignored, an empty run being 0.
@inline(__always)
func compareDigits(_ a: VersionBytes, _ ra: Range<Int>, _ b: VersionBytes, _ rb: Range<Int>) -> Int {
    var i = ra.lowerBound, j = rb.lowerBound
    while i < ra.upperBound, a[i] == 0x30 { i += 1 }
    while j < rb.upperBound, b[j] == 0x30 { j += 1 }
    let la = ra.upperBound - i, lb = rb.upperBound - j
    if la != lb { return la < lb ? -1 : 1 }
    while i < ra.upperBound {
        if a[i] != b[j] { return a[i] < b[j] ? -1 : 1 }
        i += 1; j += 1
    }
    return 0
}

/// Byte-wise comparison of `a[ra]` and `b[rb]`, a prefix sorting first (memcmp, then length).
@inline(__always)
func compareBytes(_ a: VersionBytes, _ ra: Range<Int>, _ b: VersionBytes, _ rb: Range<Int>) -> Int {
    var i = ra.lowerBound, j = rb.lowerBound
    while i < ra.upperBound, j < rb.upperBound {
        if a[i] != b[j] { return a[i] < b[j] ? -1 : 1 }
        i += 1; j += 1
    }
    let la = ra.count, lb = rb.count
    return la == lb ? 0 : (la < lb ? -1 : 1)
}
