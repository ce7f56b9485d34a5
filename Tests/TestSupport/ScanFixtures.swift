import Foundation

/// A directory tree made by a scan test (a root, or one layer of an image), removed by the
/// test when done: files written by path relative to it, with the parents made on the way.
public struct ScanTree: Sendable {
    public let path: String

    public init(_ prefix: String = "netctl-scan-") throws {
        path = NSTemporaryDirectory() + uniqueName(prefix)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    public func absolute(_ relative: String) -> String { path + "/" + relative }

    public func write(_ relative: String, _ text: String, mode: Int = 0o644) throws {
        try write(relative, bytes: Array(text.utf8), mode: mode)
    }

    public func write(_ relative: String, bytes: [UInt8], mode: Int = 0o644) throws {
        let file = absolute(relative)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
    }

    public func copy(from source: String, to relative: String) throws {
        let file = absolute(relative)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source, toPath: file)
    }

    public func makeDirectory(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: absolute(relative), withIntermediateDirectories: true)
    }

    public func link(_ relative: String, to target: String) throws {
        let file = absolute(relative)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: file, withDestinationPath: target)
    }

    /// An overlayfs whiteout: a 0:0 character device hiding `relative` of the layers below.
    public func whiteout(_ relative: String) throws {
        let file = absolute(relative)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let result = try runCommand(["mknod", file, "c", "0", "0"])
        guard result.status == 0 else { throw ScanTreeError(message: "mknod \(file): \(result.stderr)") }
    }

    /// An overlayfs opaque directory: it hides what the layers below have in it.
    public func opaque(_ relative: String) throws {
        try makeDirectory(relative)
        let result = try runCommand(["python3", "-c", "import os, sys; os.setxattr(sys.argv[1], 'trusted.overlay.opaque', b'y')", absolute(relative)])
        guard result.status == 0 else { throw ScanTreeError(message: "setxattr \(relative): \(result.stderr)") }
    }
}

public struct ScanTreeError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A dpkg status stanza as dpkg writes it.
public func dpkgStanza(_ name: String, _ version: String, source: String? = nil, architecture: String = "amd64",
                       status: String = "install ok installed") -> String {
    var text = "Package: \(name)\nStatus: \(status)\nPriority: optional\nSection: libs\nInstalled-Size: 100\n"
    text += "Maintainer: Debian Maintainers <debian@example.org>\nArchitecture: \(architecture)\nMulti-Arch: same\n"
    if let source { text += "Source: \(source)\n" }
    text += "Version: \(version)\nDepends: libc6 (>= 2.34)\nDescription: \(name) for tests\n a longer description\n .\n over lines\n\n"
    return text
}
