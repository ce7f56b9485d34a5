import CNM

/// `-p` and `--expose` strings. Either one is refused with an error, or what it parsed is
/// a spec Docker's grammar allows: ports from 1, ranges in order, a host range as long as
/// the container range (or a container range of one port).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let spec = try? PortSpec(parsing: text) {
        precondition(spec.containerPorts.lowerBound >= 1)
        if let hosts = spec.hostPorts {
            precondition(hosts.lowerBound >= 1)
            precondition(hosts.count == spec.containerPorts.count || spec.containerPorts.count == 1)
        }
        // Parsing what it means again gives the same.
        var again = spec.containerPorts.count == 1 ? "\(spec.containerPorts.lowerBound)" : "\(spec.containerPorts.lowerBound)-\(spec.containerPorts.upperBound)"
        if let hosts = spec.hostPorts { again = "\(hosts.lowerBound)-\(hosts.upperBound):" + again }
        if let ip = spec.hostIP { again = (ip.isIPv4 ? "\(ip):" : "[\(ip)]:") + (spec.hostPorts == nil ? ":" : "") + again }
        again += "/\(spec.proto.rawValue)"
        let reparsed = try! PortSpec(parsing: again)
        precondition(reparsed == spec, "\(text) -> \(again) -> \(reparsed)")
    }
    if let exposed = try? ExposedPorts(parsing: text) {
        precondition(exposed.ports.lowerBound >= 1)
    }
    return 0
}
