/// os-release(5): `KEY=value` lines, values optionally in shell quotes with backslash
/// escapes; comments and blank lines ignored.
public enum OSReleaseFile {
    /// nil when the file names no ID (then the distribution is unknown).
    public static func parse(_ bytes: [UInt8]) -> OSRelease? {
        var values: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = String(line).trimmingSpaces
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals])
            guard key == "ID" || key == "VERSION_ID" || key == "PRETTY_NAME" else { continue }
            values[key] = unquote(line[line.index(after: equals)...])
        }
        guard let id = values["ID"], !id.isEmpty else { return nil }
        return OSRelease(id: id, versionID: values["VERSION_ID"].flatMap { $0.isEmpty ? nil : $0 },
                         prettyName: values["PRETTY_NAME"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// `"Debian GNU/Linux 12 (bookworm)"`, `'3.19'`, `12`: as a shell would read it.
    private static func unquote(_ text: Substring) -> String {
        var out = ""
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                out.append(character)
                escaped = false
            } else if character == "\\" && quote != "'" {
                escaped = true
            } else if let open = quote {
                if character == open { quote = nil } else { out.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == " " || character == "\t" {
                break  // an unquoted value ends at a space (a trailing comment)
            } else {
                out.append(character)
            }
        }
        return out
    }
}
