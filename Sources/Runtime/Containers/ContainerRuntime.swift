import CNM
import Glibc

/// Containers on CNM networks: records in the state root's store (`containers/ID`), files
/// in `storage/containers/ID` (upper layer, generated /etc files, log).
public final class ContainerRuntime {
    public let root: String
    public let store: any Store
    public let network: NetworkController
    public let images: ImageStore
    /// Called when `create` does not find its image, before it looks again: how `run`
    /// pulls what it lacks (the runtime knows no registries).
    public var imageMissing: ((String) throws -> Void)?
    /// Called by `create` with the image it found, before it changes anything: how `run
    /// --scan-policy` refuses a vulnerable image (the runtime knows no advisories).
    public var imageFound: ((ImageRecord) throws -> Void)?
    let storage: String

    public init(root: String, network: NetworkController) {
        self.root = root
        store = network.store
        self.network = network
        images = ImageStore(store: network.store, root: root)
        storage = "\(root)/storage"
    }

    public func containers() throws -> [ContainerRecord] {
        try store.all(ContainerRecord.self, under: "containers").sorted { $0.created > $1.created }
    }

    /// By name, full id or unique id prefix.
    public func container(_ reference: String) throws -> ContainerRecord {
        try Reference.resolve(name: reference, idPrefix: reference, among: try containers(), names: { [$0.name] }, id: \.id)
            .mapError { RuntimeError($0.message(kind: "container", reference: reference)) }.get()
    }

    /// The name of a container that still needs the image, for `image rm`.
    public func containerUsing(_ image: ImageRecord) throws -> String? {
        try containers().first { $0.imageID == image.id }?.name
    }

    /// A container's root filesystem as layers, lowest first: the image's unpacked layers
    /// (named by diff ID) and the container's upper directory (named `container`), each
    /// with overlay whiteouts, as overlayfs merges them under the container.
    public func rootfsLayers(of record: ContainerRecord) throws -> [(directory: String, name: String)] {
        let image = try images.image(id: record.imageID)
        let layers = images.unpackedLayers(of: image).map { (directory: $0.directory, name: $0.diffID) }
        return layers + [(directory: Rootfs(directory: directory(of: record.id)).upper, name: "container")]
    }

    func directory(of id: String) -> String { "\(storage)/containers/\(id)" }
    func logPath(of id: String) -> String { "\(directory(of: id))/container.log" }

    func save(_ record: ContainerRecord) throws {
        try store.put("containers/\(record.id)", record, compact: true)
    }

    /// Whether the container's first process still runs (the same process: pid and start
    /// time both match).
    public func isRunning(_ record: ContainerRecord) -> Bool {
        record.state.status == .running && ProcessStamp(pid: record.state.pid, start: record.state.pidStart).isAlive
    }
}
