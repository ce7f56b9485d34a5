import Glibc
import Security

/// What went wrong in the runtime, as one line a user can act on.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// The exit code `run` ends with when this error stops it: 125 unless the command itself
    /// could not be run (126 not executable, 127 not found), as Docker.
    public var exitCode: Int32 = 125

    public init(_ description: String, exitCode: Int32 = 125) {
        self.description = description
        self.exitCode = exitCode
    }

    /// `what: strerror(code)`.
    static func system(_ what: String, _ code: Int32 = errno) -> RuntimeError {
        RuntimeError("\(what): \(String(cString: strerror(code)))")
    }
}

/// Retries a system call interrupted by a signal.
@inline(__always)
func retrying<T: BinaryInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

/// Calls a C loader (`la_load`, `sha256_load`) that writes its reason into a buffer when it
/// cannot load its library.
func loadLibrary(_ load: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
    var buffer = [CChar](repeating: 0, count: 256)
    let result = buffer.withUnsafeMutableBufferPointer { load($0.baseAddress!, $0.count) }
    guard result == 0 else { throw RuntimeError(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }) }
}

/// Reading profiles from files, with the runtime's one-line JSON errors.
/// `path` made absolute against the working directory.
public func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: 4096)
    return (getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? ".") + "/" + path
}

public enum SeccompProfiles {
    public static func load(_ path: String) throws -> SeccompProfile {
        let bytes = try readFile(path, name: "seccomp profile \(path)")
        return try decodeJSON(SeccompProfile.self, bytes, what: "seccomp profile \(path)")
    }
}

/// Writes a whole file (created with `mode`, or truncated).
func writeFile(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw RuntimeError.system("write \(path)") }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw RuntimeError.system("write \(path)") }
}

/// `mkdir -p PATH`.
func makeDirectory(_ path: String) throws {
    var prefix = ""
    for part in path.split(separator: "/") {
        prefix += "/\(part)"
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST { throw RuntimeError.system("mkdir \(prefix)") }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
