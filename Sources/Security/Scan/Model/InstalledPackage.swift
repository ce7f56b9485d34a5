/// One piece of software found in a root filesystem: an OS package, a language package,
/// a Go module or Go's standard library compiled into a binary.
public struct InstalledPackage: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// var/lib/dpkg/status (and status.d/): Debian, Ubuntu.
        case dpkg
        /// lib/apk/db/installed: Alpine.
        case apk
        /// The RPM database (rpmdb.sqlite).
        case rpm
        /// *.dist-info/METADATA, *.egg-info.
        case python
        /// node_modules/**/package.json, lockfiles.
        case npm
        /// A module a Go binary embeds (`go version -m`), and `stdlib` for the Go release it
        /// was built with.
        case go
    }

    public var kind: Kind
    public var name: String
    public var version: String
    /// The source package (dpkg `Source:`, apk origin, the source RPM's name), when it
    /// differs from or is known beside the binary package's: distributions' advisories
    /// name source packages.
    public var sourceName: String?
    /// dpkg `Source: name (version)` when the binary's version differs (binNMUs).
    public var sourceVersion: String?
    public var architecture: String?
    /// Where in the root it was found, without a leading slash: `var/lib/dpkg/status`,
    /// `usr/lib/python3/dist-packages/idna-3.3.dist-info/METADATA`, `usr/bin/umoci`.
    public var location: String
    /// The diff ID of the image layer that added it; nil for a container's rootfs.
    public var layer: String?

    public init(kind: Kind, name: String, version: String, sourceName: String? = nil, sourceVersion: String? = nil,
                architecture: String? = nil, location: String, layer: String? = nil) {
        self.kind = kind
        self.name = name
        self.version = version
        self.sourceName = sourceName
        self.sourceVersion = sourceVersion
        self.architecture = architecture
        self.location = location
        self.layer = layer
    }
}

/// `etc/os-release` (or `usr/lib/os-release`): which distribution's advisories apply.
public struct OSRelease: Hashable, Sendable, Codable {
    /// `debian`, `ubuntu`, `alpine`, `rhel`, `rocky`, `almalinux`, `opensuse-leap`…
    public var id: String
    /// `12`, `22.04`, `3.19.1`.
    public var versionID: String?
    public var prettyName: String?

    public init(id: String, versionID: String? = nil, prettyName: String? = nil) {
        self.id = id
        self.versionID = versionID
        self.prettyName = prettyName
    }
}

/// What a root filesystem holds.
public struct Inventory: Sendable, Codable {
    public var os: OSRelease?
    public var packages: [InstalledPackage]
    /// What could not be read, one line each (`var/lib/dpkg/status: entry 12 ("libfoo"):
    /// no Version field`): the rest was still inventoried.
    public var skipped: [String]

    public init(os: OSRelease? = nil, packages: [InstalledPackage] = [], skipped: [String] = []) {
        self.os = os
        self.packages = packages
        self.skipped = skipped
    }
}
