import Glibc

/// Reading a directory, for the state root's folders and /run/netns alike.
public enum Directory {
    public struct Entry: Sendable {
        public var name: String
        public var isDirectory: Bool
    }

    /// The entries of `path` but `.` and `..`, in the order the kernel lists them; nil when
    /// it cannot be opened, with errno saying why.
    public static func entries(in path: String) -> [Entry]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var entries: [Entry] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { entries.append(Entry(name: name, isDirectory: Int32(entry.pointee.d_type) == DT_DIR)) }
        }
        return entries
    }

    /// The names in `path`, sorted; empty when it cannot be read (most often: it does not
    /// exist yet).
    public static func names(in path: String) -> [String] {
        (entries(in: path) ?? []).map(\.name).sorted()
    }
}
