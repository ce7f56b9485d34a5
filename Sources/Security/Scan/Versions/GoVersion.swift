/// Go module versions, as golang.org/x/mod/semver orders them: SemVer 2.0.0 with a
/// required `v`, and the shorthands `v1` and `v1.2` (= v1.0.0, v1.2.0). `+incompatible` is
/// build metadata and so ignored in order; pseudo-versions
/// (`v0.0.0-20191109021931-daa7c04131f5`, `v1.2.4-0.20191109021931-daa7c04131f5`) are
/// pre-releases, and order among releases as Go means them to.
///
/// nil for what x/mod/semver calls invalid (its Compare puts those below every valid
/// version; here they are not versions at all), such as `1.2.3` without the `v`.
public enum GoVersion {
    public static func compare(_ a: String, _ b: String) -> Int? {
        withVersionBytes(a, b) { a, b in
            guard let x = SemverParts(a, requireV: true, allowShorthand: true),
                  let y = SemverParts(b, requireV: true, allowShorthand: true) else { return nil }
            return SemverParts.order(x, a, y, b)
        }
    }
}
