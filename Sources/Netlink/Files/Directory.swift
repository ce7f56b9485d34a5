import Glibc

/// Reading a directory's names, for the state root's folders and /run/netns alike.
public enum Directory {
    /// The names in `path` but `.` and `..`, sorted; empty when it cannot be read (most
    /// often: it does not exist yet).
    public static func names(in path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
