import Foundation
import Netlink

/// A network namespace of a test's own, named uniquely so tests run in parallel, and always
/// removed, with everything in it, when the test's body ends.
public final class TestNamespace: Sendable {
    public let name: String
    public let namespace: NetworkNamespace

    init(prefix: String) throws {
        name = uniqueName(prefix)
        namespace = try NetworkNamespace.create(named: name) { session in
            try session.linkSet(.name("lo"), up: true)
        }
    }

    /// A rtnetlink session inside the namespace.
    public func session() throws -> NetlinkSession { try NetlinkSession(in: namespace) }

    /// Runs a command inside the namespace (`ip netns exec NAME …`).
    public func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        try runCommand(["ip", "netns", "exec", name] + arguments, environment: environment)
    }

    /// One ICMP echo from this namespace to `address` answered within two seconds.
    public func ping(_ address: IPAddress) throws -> Bool {
        try run(["ping", "-n", "-q", "-c", "1", "-W", "2", address.description]).status == 0
    }

    func remove() { try? NetworkNamespace.remove(named: name) }
}

/// Runs `body` with fresh test namespaces and removes them however the body ends.
public func withTestNamespaces<T>(_ count: Int, prefix: String = "nct", _ body: ([TestNamespace]) throws -> T) throws -> T {
    var made: [TestNamespace] = []
    defer { made.forEach { $0.remove() } }
    for _ in 0..<count { made.append(try TestNamespace(prefix: prefix)) }
    return try body(made)
}

public func withTestNamespace<T>(prefix: String = "nct", _ body: (TestNamespace) throws -> T) throws -> T {
    try withTestNamespaces(1, prefix: prefix) { try body($0[0]) }
}

/// A name no other test (or earlier run) uses: prefix plus random hex, within IFNAMSIZ.
public func uniqueName(_ prefix: String) -> String {
    let random = UInt32.random(in: 0...UInt32.max)
    let hex = String(random, radix: 16)
    return prefix + String(repeating: "0", count: 8 - hex.count) + hex
}
