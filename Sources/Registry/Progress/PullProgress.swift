import Glibc
import Synchronization

/// What a pull shows, as `docker pull` shows it: a line per layer (`a3ed95caeb02: Pulling
/// fs layer`, `Downloading [==>    ] 1.2MB/3.4MB`, `Verifying Checksum`, `Download
/// complete`, `Extracting`, `Pull complete`, `Already exists`), then the digest, the status
/// and the reference. On a terminal each layer's line is redrawn in place; otherwise one
/// line per change of state (no byte counts); quiet prints the reference alone. Called from
/// the download threads too, so every write is under a lock.
public final class PullProgress: Sendable {
    public enum Mode: Sendable { case terminal, lines, quiet }

    public let mode: Mode
    private let write: @Sendable (String) -> Void
    private let state = Mutex(State())

    private struct State {
        /// Layer ids in the order their lines were printed, and each one's text.
        var order: [String] = []
        var lines: [String: String] = [:]
        var lastDraw: [String: Double] = [:]
    }

    /// `write` gets the text to print (stdout, as Docker prints it).
    public init(mode: Mode, write: @escaping @Sendable (String) -> Void = PullProgress.standardOutput) {
        self.mode = mode
        self.write = write
    }

    public static func standardOutput(_ text: String) { writeAll(1, text) }

    /// For a pull whose output is not the command's (`run --pull`).
    public static func standardError(_ text: String) { writeAll(2, text) }

    /// All of `text`, however the kernel splits the write.
    private static func writeAll(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            offset += count
        }
    }

    /// `1.4: Pulling from team/app`.
    func header(_ text: String) {
        if mode != .quiet { write(text + "\n") }
    }

    /// A layer's new state.
    func layer(_ id: String, _ status: String) {
        update(id, status, force: true)
    }

    /// Bytes of a layer so far, as a bar on a terminal (redrawn at most ten times a second).
    func downloading(_ id: String, _ done: Int64, of total: Int64) {
        guard mode == .terminal else { return }
        let width = 50
        let filled = total > 0 ? Int(Double(width) * Double(done) / Double(total)) : 0
        let bar = String(repeating: "=", count: max(0, filled - 1)) + (filled > 0 ? ">" : "") + String(repeating: " ", count: max(0, width - filled))
        update(id, "Downloading [\(bar)]  \(Self.size(done))/\(Self.size(total))", force: done >= total)
    }

    /// The closing lines: `Digest: …`, `Status: …`, the reference (alone when quiet).
    func finish(digest: String, status: String, reference: String) {
        if mode != .quiet { write("Digest: \(digest)\nStatus: \(status)\n") }
        write(reference + "\n")
    }

    private func update(_ id: String, _ status: String, force: Bool) {
        guard mode != .quiet else { return }
        let text = "\(id): \(status)"
        state.withLock { state in
            let known = state.lines[id] != nil
            if mode == .lines {
                if state.lines[id] != text { write(text + "\n") }
                state.lines[id] = text
                return
            }
            let now = monotonicSeconds()
            if known, !force, let last = state.lastDraw[id], now - last < 0.1 { return }
            state.lastDraw[id] = now
            state.lines[id] = text
            guard known, let row = state.order.firstIndex(of: id) else {
                state.order.append(id)
                write(text + "\n")
                return
            }
            // Up to the layer's line, rewrite it, back down: ESC[nA, ESC[2K, ESC[nB.
            let up = state.order.count - row
            write("\u{1b}[\(up)A\r\u{1b}[2K\(text)\r\u{1b}[\(up)B")
        }
    }

    /// Docker's sizes: decimal units, one decimal (`1.2MB`).
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        if unit == 0 { return "\(bytes)B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)\(units[unit])"
    }
}
