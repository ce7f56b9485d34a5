import JSON

// netctl-cni's own NetworkConfig.swift and Invocation.swift are linked here (symlinks into
// Sources/netctl-cni), so the fuzzer runs the very code the plugin runs.

/// A network configuration as a runtime writes it on stdin, read as ADD reads it: refused
/// with a CNI error whose JSON reads back, or read into requests that check out.
public func fuzzCNIConfig(_ bytes: [UInt8]) {
    let config: NetworkConfig
    do {
        config = try NetworkConfig.parse(bytes)
    } catch {
        checkError(error)
        return
    }
    precondition(!config.version.isEmpty && !config.name.isEmpty)
    precondition(config.document.members != nil)
    // CNI_ARGS from the first line of the input too, so its reader runs on odd text.
    let args = String(decoding: bytes.prefix { $0 != 0x0a }, as: UTF8.self)
    let invocation = Invocation(command: "ADD", containerID: "fuzz", netns: "/run/netns/fuzz", interface: "eth0", args: args)
    do {
        let requests = try config.requests(invocation)
        for spec in requests.publish { precondition(spec.hasSuffix("/tcp") || spec.hasSuffix("/udp") || spec.hasSuffix("/sctp"), spec) }
    } catch {
        checkError(error)
    }
    if let dns = config.dns {
        precondition((try? JSON.parse(dns.serializedBytes)) == dns)
    }
}

/// A refusal is a PluginError whose JSON (what goes to stdout) parses back.
private func checkError(_ error: any Error) {
    guard let error = error as? PluginError else { preconditionFailure("not a PluginError: \(error)") }
    let json = error.json(version: "1.1.0")
    precondition((try? JSON.parse(json.serializedBytes)) == json, "\(json)")
}
