import FuzzPluginsCNI
import FuzzPluginsDocker
import JSON

/// What the plug-ins read from outside: any JSON document (parse, serialize, parse again
/// gives the same tree and the same text; a refusal names an offset inside the input, in
/// one line), netctl-cni's network configuration, and the Docker plugin's HTTP/1.1
/// requests with their bodies. Nothing traps, recurses without bound or loops.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    fuzzJSON(bytes)
    fuzzCNIConfig(bytes)
    fuzzDockerRequests(bytes)
    fuzzDockerBody(bytes)
    return 0
}

func fuzzJSON(_ bytes: [UInt8]) {
    for limits in [JSON.Limits(), JSON.Limits(maximumBytes: 4096, maximumDepth: 3)] {
        let value: JSON
        do {
            value = try JSON.parse(bytes, limits: limits)
        } catch {
            precondition(error.offset >= 0 && error.offset <= max(bytes.count, limits.maximumBytes), "\(error)")
            precondition(!error.message.isEmpty && !error.description.contains(where: \.isNewline), error.description)
            continue
        }
        let text = value.serializedBytes
        let again: JSON
        do { again = try JSON.parse(text, limits: JSON.Limits(maximumBytes: .max, maximumDepth: limits.maximumDepth)) } catch {
            preconditionFailure("\(bytes) -> \(value.serialized) -> \(error)")
        }
        precondition(again == value, "\(bytes) -> \(value.serialized) -> \(again.serialized)")
        precondition(again.serializedBytes == text)
    }
}
