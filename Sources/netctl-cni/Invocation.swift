import Glibc
import JSON

/// The CNI versions this plugin speaks. Results of 0.3.x and 0.4.0 differ from 1.x only
/// by the `version` of each IP; older shapes (0.1.0, 0.2.0) are refused.
let supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
let latestVersion = "1.1.0"

/// A failure as the spec reports it: `{"cniVersion","code","msg","details"}` on stdout.
struct PluginError: Error {
    var code: Int
    var message: String
    var details = ""

    static let incompatibleVersion = 1
    static let unsupportedField = 2
    static let unknownContainer = 3
    static let invalidEnvironment = 4
    static let decodingFailure = 6
    static let invalidConfig = 7
    static let tryAgainLater = 11
    static let notAvailable = 50
    /// Plugin-specific (100 and up): CHECK found the attachment differs from netctl's record.
    static let checkFailed = 100
    /// What netctl's network stack refused or failed at (an address taken, a kernel error).
    static let networkFailure = 999

    init(_ code: Int, _ message: String, details: String = "") {
        self.code = code
        self.message = message
        self.details = details
    }

    func json(version: String) -> JSON {
        .object([("cniVersion", .string(version)), ("code", .number(String(code))),
                 ("msg", .string(message)), ("details", .string(details))])
    }
}

/// What the runtime gives the plugin: the CNI_ variables and the config on stdin.
struct Invocation {
    var command: String
    var containerID: String?
    var netns: String?
    var interface: String?
    var args: String?

    static func fromEnvironment() throws -> Invocation {
        guard let command = variable("CNI_COMMAND") else {
            throw PluginError(PluginError.invalidEnvironment, "CNI_COMMAND is not set: expected ADD, DEL, CHECK, VERSION, STATUS or GC")
        }
        return Invocation(command: command, containerID: variable("CNI_CONTAINERID"), netns: variable("CNI_NETNS"),
                          interface: variable("CNI_IFNAME"), args: variable("CNI_ARGS"))
    }

    /// CNI_CONTAINERID as the spec allows it: a letter or digit, then letters, digits, `_`, `.`, `-`.
    func requireContainerID() throws -> String {
        guard let id = containerID else { throw PluginError(PluginError.invalidEnvironment, "CNI_CONTAINERID is not set: expected the container's id") }
        let valid = id.utf8.enumerated().allSatisfy { index, byte in
            let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            return alphanumeric || (index > 0 && (byte == 0x5f || byte == 0x2e || byte == 0x2d))
        }
        guard valid, id.utf8.count <= 256 else {
            throw PluginError(PluginError.invalidEnvironment, "invalid CNI_CONTAINERID \"\(id)\": expected a letter or digit, then letters, digits, _, . or -")
        }
        return id
    }

    /// CNI_IFNAME as the kernel takes it: 1 to 15 bytes, no `/`, `:` or whitespace, not `.` or `..`.
    func requireInterface() throws -> String {
        guard let name = interface else { throw PluginError(PluginError.invalidEnvironment, "CNI_IFNAME is not set: expected the interface name to create, such as eth0") }
        guard name.utf8.count <= 15, name != ".", name != "..",
              !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) else {
            throw PluginError(PluginError.invalidEnvironment, "invalid CNI_IFNAME \"\(name)\": expected 1 to 15 bytes without /, : or whitespace")
        }
        return name
    }

    func requireNetns() throws -> String {
        guard let path = netns else { throw PluginError(PluginError.invalidEnvironment, "CNI_NETNS is not set: expected the path of the container's network namespace") }
        guard path.hasPrefix("/") else {
            throw PluginError(PluginError.invalidEnvironment, "invalid CNI_NETNS \"\(path)\": expected an absolute path such as /var/run/netns/NAME")
        }
        return path
    }

    /// CNI_ARGS: `KEY=VALUE;…`. IP and MAC are honoured (as host-local and the bridge
    /// plugin do); other keys (IgnoreUnknown, K8S_POD_NAME, …) are ignored.
    func argument(_ key: String) throws -> String? {
        guard let args = args else { return nil }
        for pair in args.split(separator: ";", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw PluginError(PluginError.invalidEnvironment, "invalid CNI_ARGS pair \"\(pair)\": expected KEY=VALUE")
            }
            if parts[0] == key { return String(parts[1]) }
        }
        return nil
    }

    static func variable(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

/// Reads stdin whole, up to `limit` bytes: a config is a few KiB, so more is refused
/// rather than read without end.
func readStandardInput(limit: Int = 1 << 20) throws -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let count = read(0, &chunk, chunk.count)
        if count < 0 {
            if errno == EINTR { continue }
            throw PluginError(PluginError.decodingFailure, "cannot read the network configuration on stdin: \(String(cString: strerror(errno)))")
        }
        if count == 0 { return bytes }
        guard bytes.count + count <= limit else {
            throw PluginError(PluginError.decodingFailure, "network configuration on stdin is larger than \(limit >> 10) KiB: expected a CNI config document")
        }
        bytes += chunk[0..<count]
    }
}

func writeOut(_ text: String) {
    var remaining = Array((text + "\n").utf8)[...]
    while !remaining.isEmpty {
        let written = remaining.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if written < 0 { if errno == EINTR { continue }; return }
        remaining = remaining.dropFirst(written)
    }
}
