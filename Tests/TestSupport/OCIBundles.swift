import Foundation

/// OCI bundles for runtime tests: `runc spec`'s config.json with terminal off and the given
/// `args`, over a copy of the busybox test rootfs.
public enum OCIBundles {
    public static func make(_ directory: String, args: [String], edit: (inout [String: Any]) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let spec = try runCommand(["sh", "-c", "cd '\(directory)' && runc spec && cp -a '\(try TestImages.busybox().bundleRootfs)' rootfs"])
        guard spec.status == 0 else { throw HarnessError("runc spec: \(spec.stderr)") }
        let path = directory + "/config.json"
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var process = config["process"] as! [String: Any]
        process["terminal"] = false
        process["args"] = args
        config["process"] = process
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
    }
}
