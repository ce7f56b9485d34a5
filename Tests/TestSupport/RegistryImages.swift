import Foundation

/// Images put into a test registry the way users put them there: by skopeo.
public enum RegistryImages {
    /// `skopeo copy oci:LAYOUT[:REF] docker://DESTINATION` over plain HTTP; `all` copies
    /// every image of an index.
    public static func push(layout: String, reference: String? = nil, to destination: String, all: Bool = false,
                            credentials: (user: String, password: String)? = nil) throws {
        let source = "oci:\(layout)" + (reference.map { ":\($0)" } ?? "")
        // Credentials through an auth file of its own, not --dest-creds (argv is public), and
        // none of the host's read.
        let directory = NSTemporaryDirectory() + uniqueName("ncskopeo")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let authFile = directory + "/auth.json"
        let registry = String(destination.split(separator: "/").first ?? "")
        let auths = credentials.map { credentials in
            let encoded = Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()
            return "{\"\(registry)\": {\"auth\": \"\(encoded)\"}}"
        } ?? "{}"
        guard FileManager.default.createFile(atPath: authFile, contents: Data(#"{"auths": \#(auths)}"#.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw HarnessError("cannot write \(authFile)")
        }
        let result = try runCommand(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-authfile", authFile] + (all ? ["--all"] : [])
                                    + [source, "docker://\(destination)"], environment: ["REGISTRY_AUTH_FILE": authFile])
        guard result.status == 0 else { throw HarnessError("skopeo copy \(source) docker://\(destination): \(result.stderr)") }
    }

    public struct MultiPlatform: Sendable {
        public let layout: String
        public let index: String
        public let amd64: String
        public let arm64: String
    }

    /// A copy of the single-image layout `source` at `directory` whose index.json names (as
    /// `latest`) an index of two manifests: an arm64 one first (the same layers, its
    /// config's architecture changed) and the original as amd64.
    public static func multiPlatform(from source: String, at directory: String) throws -> MultiPlatform {
        let result = try runCommand(["python3", "-c", script, source, directory])
        guard result.status == 0 else { throw HarnessError("building a multi-platform layout failed: \(result.stderr)") }
        let digests = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: String]
        return MultiPlatform(layout: directory, index: digests["index"]!, amd64: digests["amd64"]!, arm64: digests["arm64"]!)
    }

    private static let script = #"""
import hashlib, json, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
index = json.load(open(dst + "/index.json"))
top = index["manifests"][0]
def blob(digest): return open(dst + "/blobs/sha256/" + digest.split(":")[1], "rb").read()
def put(data):
    digest = hashlib.sha256(data).hexdigest()
    open(dst + "/blobs/sha256/" + digest, "wb").write(data)
    return "sha256:" + digest
manifest = json.loads(blob(top["digest"]))
config = json.loads(blob(manifest["config"]["digest"]))
config["architecture"] = "arm64"
config_bytes = json.dumps(config).encode()
manifest["config"] = dict(manifest["config"], digest=put(config_bytes), size=len(config_bytes))
arm_bytes = json.dumps(manifest).encode()
media = top.get("mediaType", "application/vnd.oci.image.manifest.v1+json")
amd = {"mediaType": media, "digest": top["digest"], "size": top["size"], "platform": {"os": "linux", "architecture": "amd64"}}
arm = {"mediaType": media, "digest": put(arm_bytes), "size": len(arm_bytes), "platform": {"os": "linux", "architecture": "arm64"}}
index_bytes = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [arm, amd]}).encode()
index["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(index_bytes), "size": len(index_bytes),
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}]
json.dump(index, open(dst + "/index.json", "w"))
print(json.dumps({"index": index["manifests"][0]["digest"], "amd64": amd["digest"], "arm64": arm["digest"]}))
"""#
}
