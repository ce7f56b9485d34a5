import Foundation

/// OCI image layouts with layers written entry by entry (by Python's tarfile), for images
/// no well-behaved tool would make: hostile paths, links and devices.
public enum CraftedImages {
    public enum Entry: Sendable {
        case file(String, String)
        case directory(String)
        case symlink(String, to: String)
        case hardlink(String, to: String)
        case characterDevice(String, major: Int, minor: Int)
    }

    /// Writes a layout to `directory`: the layer blobs `base` (gzip tars, e.g. another
    /// image's) and then one layer per element of `layers`, compressed with `compression`
    /// (gzip, zstd or none), with correct digests, sizes and diff IDs, tagged `latest`.
    /// `config` and `manifest`, when given, are those blobs' bytes instead of the right ones
    /// (still with their correct digests and sizes).
    public static func layout(
        at directory: String, base: [String] = [], layers: [[Entry]], compression: String = "gzip",
        config rawConfig: String? = nil, manifest rawManifest: String? = nil
    ) throws {
        let json = layers.map { layer in
            layer.map { entry -> [String: Any] in
                switch entry {
                case .file(let name, let data): return ["name": name, "type": "file", "data": data]
                case .directory(let name): return ["name": name, "type": "dir"]
                case .symlink(let name, let target): return ["name": name, "type": "symlink", "link": target]
                case .hardlink(let name, let target): return ["name": name, "type": "hardlink", "link": target]
                case .characterDevice(let name, let major, let minor): return ["name": name, "type": "char", "major": major, "minor": minor]
                }
            }
        }
        let spec = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        // In a file: a blob of megabytes would not fit in an argument.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let raw = directory + "/.crafted-blobs.json"
        try JSONSerialization.data(withJSONObject: ["config": rawConfig.map { $0 as Any } ?? NSNull(), "manifest": rawManifest.map { $0 as Any } ?? NSNull()])
            .write(to: URL(fileURLWithPath: raw))
        let result = try runCommand(["python3", "-c", script, directory, spec, compression, raw] + base)
        guard result.status == 0 else { throw HarnessError("crafting an image failed: \(result.stderr)") }
    }

    private static let script = #"""
import gzip, hashlib, io, json, os, sys, tarfile
import subprocess
out, spec, compression, base = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[5:]
given = json.load(open(sys.argv[4]))
os.remove(sys.argv[4])
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    open(out + "/blobs/sha256/" + digest, "wb").write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}
layers, diff_ids = [], []
for path in base:
    data = open(path, "rb").read()
    diff_ids.append("sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest())
    layer = blob(data)
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    layers.append(layer)
for entries in spec:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.mode = 0o644
            data = None
            if e["type"] == "file":
                data = e["data"].encode(); info.size = len(data)
            elif e["type"] == "dir":
                info.type = tarfile.DIRTYPE; info.mode = 0o755
            elif e["type"] == "symlink":
                info.type = tarfile.SYMTYPE; info.linkname = e["link"]
            elif e["type"] == "hardlink":
                info.type = tarfile.LNKTYPE; info.linkname = e["link"]
            elif e["type"] == "char":
                info.type = tarfile.CHRTYPE; info.devmajor = e["major"]; info.devminor = e["minor"]
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    diff_ids.append("sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())
    if compression == "zstd":
        packed = subprocess.run(["zstd", "-q", "-c"], input=raw.getvalue(), stdout=subprocess.PIPE, check=True).stdout
        media = "application/vnd.oci.image.layer.v1.tar+zstd"
    elif compression == "none":
        packed, media = raw.getvalue(), "application/vnd.oci.image.layer.v1.tar"
    else:
        packed, media = gzip.compress(raw.getvalue()), "application/vnd.oci.image.layer.v1.tar+gzip"
    layer = blob(packed)
    layer["mediaType"] = media
    layers.append(layer)
config = blob(given["config"].encode() if given["config"] is not None else
              json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                          "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
config["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = blob(given["manifest"].encode() if given["manifest"] is not None else
                json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": config, "layers": layers}).encode())
manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
manifest["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(out + "/index.json", "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(out + "/oci-layout", "w"))
"""#
}
