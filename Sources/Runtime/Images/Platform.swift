/// `os/arch[/variant]`, as `--platform` takes it and indexes describe their manifests.
public struct Platform: Codable, Sendable, Equatable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `linux/amd64`, `linux/arm64/v8`; refused in one line otherwise.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw RuntimeError("platform \"\(text)\": expected OS/ARCH[/VARIANT], like linux/amd64")
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// The host's: linux and the architecture netctl was built for.
    public static var host: Platform { Platform(os: "linux", architecture: ImageLayout.hostArchitecture) }

    public var description: String { [os, architecture, variant].compactMap { $0 }.joined(separator: "/") }

    /// An index entry for `self`: os and architecture equal; the variant too when one was
    /// asked for.
    public func matches(_ other: Platform) -> Bool {
        other.os == os && other.architecture == architecture && (variant == nil || other.variant == variant)
    }
}
