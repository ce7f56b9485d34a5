import CNM
import Netlink

/// How a container finds names: `--dns`, `--dns-search`, `--dns-option` and `--add-host`
/// checked before anything is made, the names CNM gives it on networks with names, and
/// the /etc/resolv.conf and /etc/hosts it gets.
extension ContainerRuntime {
    /// resolv.conf options glibc and musl know, as `resolv.conf(5)` lists them; those that
    /// take a number end with a colon.
    static let resolverOptions = [
        "ndots:", "timeout:", "attempts:", "rotate", "edns0", "single-request", "single-request-reopen",
        "no-tld-query", "use-vc", "trust-ad", "inet6", "debug", "no-reload", "no-aaaa", "ip6-bytestring",
        "ip6-dotint", "no-ip6-dotint", "no-check-names", "insecure1", "insecure2",
    ]

    /// Checks the flags and records them (Docker's HostConfig.Dns, DnsSearch, DnsOptions,
    /// ExtraHosts); a bad value stops `run` before anything is made.
    static func recordNameSettings(_ request: RunRequest, into host: inout ContainerRecord.HostConfig) throws {
        for server in request.dns where IPAddress(server) == nil {
            throw RuntimeError("invalid --dns \"\(server)\": expected an IPv4 or IPv6 address")
        }
        for domain in request.dnsSearch where !isDomain(domain) && domain != "." {
            throw RuntimeError("invalid --dns-search \"\(domain)\": expected a domain name such as example.test")
        }
        for option in request.dnsOptions {
            let known = resolverOptions.contains { known in
                known.hasSuffix(":")
                    ? option.hasPrefix(known) && option.count > known.count && UInt8(option.dropFirst(known.count)) != nil
                    : option == known
            }
            guard known else {
                throw RuntimeError("invalid --dns-option \"\(option)\": expected a resolv.conf option such as ndots:2, timeout:3, attempts:2, rotate, edns0, single-request, use-vc or trust-ad")
            }
        }
        for entry in request.addHosts { _ = try parseHostEntry(entry) }
        for alias in request.aliases {
            do { try NetworkController.validateAlias(alias) } catch let error as CNMError { throw RuntimeError(error.description) }
        }
        if !request.dns.isEmpty { host.dns = request.dns }
        if !request.dnsSearch.isEmpty { host.dnsSearch = request.dnsSearch }
        if !request.dnsOptions.isEmpty { host.dnsOptions = request.dnsOptions }
        if !request.addHosts.isEmpty { host.extraHosts = request.addHosts }
        if !request.aliases.isEmpty { host.aliases = request.aliases }
    }

    /// `--add-host NAME:IP` (an IPv6 address may follow the first colon as it is, or in
    /// brackets): the name and the address, as /etc/hosts has them.
    static func parseHostEntry(_ text: String) throws -> (name: String, address: String) {
        guard let colon = text.firstIndex(of: ":") else {
            throw RuntimeError("invalid --add-host \"\(text)\": expected NAME:IP")
        }
        let name = String(text[..<colon])
        var address = String(text[text.index(after: colon)...])
        if address.hasPrefix("["), address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
        guard isDomain(name) else { throw RuntimeError("invalid --add-host \"\(text)\": \"\(name)\" is not a host name") }
        guard let parsed = IPAddress(address) else { throw RuntimeError("invalid --add-host \"\(text)\": expected NAME:IP, and \"\(address)\" is not an IP address") }
        return (name, parsed.description)
    }

    /// Letters, digits, `-`, `_` and `.` in labels of 1 to 63, at most 253 in all.
    static func isDomain(_ text: String) -> Bool {
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { return false }
        return trimmed.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && label.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f
            }
        }
    }

    /// What CNM records the container as on networks with names, besides its aliases:
    /// its name, its hostname when one was given, its short id.
    static func endpointNames(_ record: ContainerRecord, hostnameGiven: Bool) -> [String] {
        [record.name] + (hostnameGiven ? [record.config.hostname] : []) + [record.shortID]
    }

    /// The container's /etc/resolv.conf. On a network with names, as Docker writes it:
    /// the resolver at 127.0.0.11, the search domains (`--dns-search`, else the host's)
    /// and `options ndots:0` with `--dns-option`. Elsewhere the host's file, loopback
    /// nameservers left out unless the container shares the host's network; each of
    /// `--dns`, `--dns-search`, `--dns-option` replaces the host's lines of its kind.
    static func resolvConf(host text: String, record: ContainerRecord, served: Bool) -> String {
        resolvConf(host: text, servers: record.host.dns, search: record.host.dnsSearch, options: record.host.dnsOptions,
                   hostNetwork: record.host.networks == .host, served: served)
    }

    /// The same from the flags' values (nil: not given).
    static func resolvConf(host text: String, servers givenServers: [String]?, search givenSearch: [String]?,
                           options givenOptions: [String]?, hostNetwork: Bool, served: Bool) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func fields(_ line: String) -> [String] {
            line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        let hostSearch = lines.filter { ["search", "domain"].contains(fields($0).first ?? "") }.flatMap { fields($0).dropFirst() }
        let hostOptions = lines.filter { fields($0).first == "options" }.flatMap { fields($0).dropFirst() }
        let search = givenSearch.map { $0 == ["."] ? [] : $0 } ?? hostSearch
        if served {
            var options = givenOptions ?? []
            if !options.contains(where: { $0.hasPrefix("ndots:") }) { options.insert("ndots:0", at: 0) }
            return "nameserver \(NetworkController.resolverAddress)\n"
                + (search.isEmpty ? "" : "search \(search.joined(separator: " "))\n")
                + "options \(options.joined(separator: " "))\n"
        }
        let given = givenServers != nil || givenSearch != nil || givenOptions != nil
        if !given {
            if hostNetwork { return text }
            return lines.filter { line in
                let words = fields(line)
                return !(words.count >= 2 && words[0] == "nameserver" && (words[1].hasPrefix("127.") || words[1] == "::1"))
            }.joined(separator: "\n")
        }
        let hostServers = lines.compactMap { line -> String? in
            let words = fields(line)
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            return !hostNetwork && (words[1].hasPrefix("127.") || words[1] == "::1") ? nil : words[1]
        }
        let servers = givenServers ?? hostServers
        let options = givenOptions ?? hostOptions
        return servers.map { "nameserver \($0)\n" }.joined()
            + (search.isEmpty ? "" : "search \(search.joined(separator: " "))\n")
            + (options.isEmpty ? "" : "options \(options.joined(separator: " "))\n")
    }

    /// `--add-host` lines for /etc/hosts.
    static func extraHostLines(_ record: ContainerRecord) -> String {
        (record.host.extraHosts ?? []).compactMap { try? parseHostEntry($0) }.map { "\($0.address)\t\($0.name)\n" }.joined()
    }
}

extension ContainerRuntime {
    /// `network connect NET CONTAINER` (or `disconnect`), Docker's form: the request for the
    /// container's sandbox, with its names and `--dns` upstreams. Nil when no container has
    /// that name or id; an error when it has no sandbox (stopped, or `--network none|host`).
    public func connectRequest(for request: ConnectRequest) throws -> ConnectRequest? {
        guard let record = try? container(request.sandbox) else { return nil }
        guard let sandbox = record.sandbox, isRunning(record) else {
            throw RuntimeError("container \"\(record.name)\" has no network sandbox to connect: it is not running, or runs with --network none, host or container:")
        }
        var connect = request
        connect.sandbox = sandbox
        connect.names = Self.endpointNames(record, hostnameGiven: true)
        connect.upstreamResolvers = record.host.dns ?? []
        return connect
    }
}

extension ContainerRuntime {
    /// After `network connect NET CONTAINER` gave a container names it had none of (one
    /// started on the default bridge joining a user-defined network): its resolv.conf
    /// becomes the resolver's, as Docker rewrites it. Written in place, since it is
    /// bind-mounted into the running container.
    public func resolverJoined(container reference: String) throws {
        let record = try container(reference)
        let path = "\(directory(of: record.id))/resolv.conf"
        let current = (try? readFile(path, name: "resolv.conf", limit: .text)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard !current.hasPrefix("nameserver \(NetworkController.resolverAddress)\n") else { return }
        let host = (try? readFile("/etc/resolv.conf", name: "resolv.conf", limit: .text)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        try writeFile(Array(Self.resolvConf(host: host, record: record, served: true).utf8), to: path, mode: 0o644)
    }
}
