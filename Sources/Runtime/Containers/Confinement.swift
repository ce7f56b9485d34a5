import Glibc
import Security

/// What confines a running container's first process, as the kernel reports it in
/// /proc/PID/status (and the AppArmor label in /proc/PID/attr/current).
public struct Confinement: Codable, Sendable {
    public var pid: Int32
    public var capEff: String
    public var capPrm: String
    public var capBnd: String
    public var capInh: String
    public var capAmb: String
    /// 0 off, 1 strict, 2 filter.
    public var seccomp: Int
    public var seccompFilters: Int
    public var noNewPrivs: Bool
    public var appArmor: String?

    /// The names in a capability mask in hex, as /proc shows it.
    public static func names(_ hex: String) -> [String] {
        let mask = UInt64(hex, radix: 16) ?? 0
        return Capability.names.indices.filter { mask & (1 << UInt64($0)) != 0 }.map { "CAP_" + Capability.names[$0] }
    }
}

extension ContainerRuntime {
    public func confinement(_ reference: String) throws -> Confinement {
        let record = try container(reference)
        guard isRunning(record) else { throw RuntimeError("container \(record.name) is not running") }
        let pid = record.state.pid
        let status = String(decoding: try readFile("/proc/\(pid)/status", name: "/proc/\(pid)/status", limit: .text), as: UTF8.self)
        var fields: [String: String] = [:]
        for line in status.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters() }
        }
        let label = (try? readFile("/proc/\(pid)/attr/apparmor/current", name: "apparmor", limit: .text))
            .map { String(decoding: $0, as: UTF8.self)[...].trimmingCharacters() }
        return Confinement(
            pid: pid, capEff: fields["CapEff"] ?? "", capPrm: fields["CapPrm"] ?? "", capBnd: fields["CapBnd"] ?? "",
            capInh: fields["CapInh"] ?? "", capAmb: fields["CapAmb"] ?? "", seccomp: Int(fields["Seccomp"] ?? "") ?? 0,
            seccompFilters: Int(fields["Seccomp_filters"] ?? "") ?? 0, noNewPrivs: fields["NoNewPrivs"] == "1",
            appArmor: label.flatMap { $0.isEmpty ? nil : $0 })
    }
}
