import Foundation

/// python-tuf, the reference implementation of TUF, as an oracle for the trust tests: the
/// venv `make deps` builds at `.build-venv/` with a pinned `tuf` from PyPI.
public enum PythonTUF {
    /// The venv's interpreter (`NETCTL_PYTHON_TUF` overrides it).
    public static var python: String {
        if let path = ProcessInfo.processInfo.environment["NETCTL_PYTHON_TUF"] { return path }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build-venv/bin/python").path
    }

    /// Runs `script` (Python source; `sys.argv[1:]` is `args`) with the venv's python and
    /// returns what it printed. Throws with the script's stderr when it fails, and with
    /// what to do when the venv is missing.
    @discardableResult
    public static func run(script: String, args: [String] = []) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw HarnessError("python-tuf: no venv at \(python); run `make deps` (it installs tuf into .build-venv)")
        }
        let result = try runCommand([python, "-c", script] + args, environment: ["PYTHONDONTWRITEBYTECODE": "1"])
        guard result.status == 0 else {
            throw HarnessError("python-tuf script failed (exit \(result.status)): \(result.stderr.split(separator: "\n").suffix(8).joined(separator: "\n"))")
        }
        return result.stdout
    }
}
