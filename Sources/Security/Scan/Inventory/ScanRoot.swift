/// What an inventory looks at: an image's unpacked layers (each layer's own directory, with
/// overlay whiteouts) or one merged directory (a container's rootfs). Only plain directories
/// and bytes: Security does not know the image store.
public struct ScanRoot: Sendable {
    struct Layer: Sendable {
        var directory: String
        /// nil for a merged root: its packages are attributed to no layer.
        var diffID: String?
    }

    let layers: [Layer]
    /// Layers hide what is below them with whiteouts and opaque directories; a merged root
    /// has nothing below, and a 0:0 character device in it is just a device.
    let isLayered: Bool

    /// An image's unpacked layers, lowest first, each a directory of that layer alone with
    /// overlay whiteouts (a 0:0 character device `NAME` hides NAME below; a directory with
    /// xattr trusted.overlay.opaque=y hides everything below it), named by diff ID.
    public init(layers: [(directory: String, diffID: String)]) {
        self.layers = layers.map { Layer(directory: $0.directory, diffID: $0.diffID) }
        isLayered = true
    }

    /// A merged root (a running container's rootfs, a plain directory): no layers.
    public init(directory: String) {
        layers = [Layer(directory: directory, diffID: nil)]
        isLayered = false
    }
}
