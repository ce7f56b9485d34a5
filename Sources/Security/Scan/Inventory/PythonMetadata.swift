/// Python's core metadata (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, a `*.egg-info`
/// file): email-style headers, then a body after the first blank line. Name and Version
/// are all the inventory needs; they come first in every writer's output.
public enum PythonMetadata {
    public static func parse(_ bytes: [UInt8], location: String) throws(ScanError) -> InstalledPackage {
        var stanzas = ControlStanzas(bytes)
        var name: String?, version: String?
        for field in stanzas.next()?.fields ?? [] {
            guard case .named(let header) = field.name else { continue }
            if name == nil && ControlStanzas.same(header, "Name") { name = field.value }
            else if version == nil && ControlStanzas.same(header, "Version") { version = field.value }
        }
        guard let name, !name.isEmpty else { throw .invalid("\(location): no Name header") }
        guard let version, !version.isEmpty else { throw .invalid("\(location): no Version header") }
        return InstalledPackage(kind: .python, name: name, version: version, location: location)
    }
}
