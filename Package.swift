// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "netctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "netctl", targets: ["netctl"]),
        .executable(name: "netctl-dns", targets: ["netctl-dns"]),
        .executable(name: "netctl-cni", targets: ["netctl-cni"]),
        .executable(name: "netctl-docker-plugin", targets: ["netctl-docker-plugin"]),
        .executable(name: "netctl-runc", targets: ["netctl-runc"]),
        .library(name: "Netlink", targets: ["Netlink"]),
        .library(name: "NFTables", targets: ["NFTables"]),
        .library(name: "CNM", targets: ["CNM"]),
        .library(name: "Security", targets: ["Security"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .library(name: "VXLAN", targets: ["VXLAN"]),
        .library(name: "DNS", targets: ["DNS"]),
        .library(name: "Registry", targets: ["Registry"]),
        // A product so that Fuzz/ can link it.
        .library(name: "JSON", targets: ["JSON"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries and C.
        .systemLibrary(name: "CNetlink", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CNFTables", pkgConfig: "libnftnl", providers: [.apt(["libnftnl-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .target(name: "CLazyLibrary"),
        .target(name: "CArchive", dependencies: ["CLazyLibrary"]),
        .target(name: "CDigest", dependencies: ["CLazyLibrary"]),
        .target(name: "CCrypto", dependencies: ["CLazyLibrary"]),
        .target(name: "CIgzip", dependencies: ["CLazyLibrary"]),
        .target(name: "CRuntimeShim"),
        .target(name: "CCurl", dependencies: ["CLazyLibrary"]),
        .target(name: "CYAML", dependencies: ["CLazyLibrary"]),
        .target(name: "CSQLite", dependencies: ["CLazyLibrary"]),

        // Typed kernel interfaces.
        .target(name: "Netlink", dependencies: ["CNetlink"]),
        .target(name: "NFTables", dependencies: ["CNFTables", "Netlink"]),

        // Names on networks: the DNS message codec, the resolver's tables and its control socket.
        .target(name: "DNS", dependencies: ["CRuntimeShim", "CLinux"]),

        // The Container Network Model.
        .target(name: "CNM", dependencies: ["Netlink", "NFTables", "DNS"]),

        // Overlay networks across hosts: the overlay driver, the etcd client, the agent, the lab.
        .target(name: "VXLAN", dependencies: [
            "CNM", "DNS", "Netlink", "NFTables", "CCurl", "CYAML", "CRuntimeShim",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // Confinement: capabilities, seccomp, AppArmor; content trust; vulnerability scanning.
        .target(name: "Security", dependencies: ["CSeccomp", "CCrypto", "CSQLite", "CArchive"]),

        // Images, rootfs, containers.
        .target(name: "Runtime", dependencies: [
            "CNM", "Security", "CArchive", "CDigest", "CIgzip", "CRuntimeShim", "CSeccomp",
        ]),

        // Registries: the OCI distribution API over libcurl, pull and push into the image store.
        .target(name: "Registry", dependencies: ["Runtime", "CCurl", "CDigest"]),

        // The command line.
        .executableTarget(
            name: "netctl",
            dependencies: [
                "CNM", "Runtime", "VXLAN", "Registry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // lld with packed relative relocations (DT_RELR, glibc 2.36+): the binary stays
            // position-independent, and the dynamic loader applies its ~44,000 relative
            // relocations from an 8 KB table instead of a 1 MB one, ~1 ms of every command.
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))]
        ),

        // The resolver, an executable of its own: started on demand, small in memory, and
        // nothing of it in the start-up of every other command.
        .executableTarget(
            name: "netctl-dns",
            dependencies: ["DNS"],
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))]
        ),

        // The plug-ins' JSON: a bounded parser and writer that keep numbers' text and keys' order.
        .target(name: "JSON"),

        // The plugs into other engines, executables of their own so that none of them adds to
        // the start-up of netctl's commands, and each starts with only what it links:
        // a CNI plugin (CNI 1.0/1.1: containerd, Podman, Kubernetes) …
        .executableTarget(
            name: "netctl-cni",
            dependencies: ["CNM", "VXLAN", "Netlink", "JSON"],
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))]
        ),
        // … Docker's remote network and IPAM driver (libnetwork's plugin protocol), which
        // `netctl docker-plugin` starts …
        .executableTarget(
            name: "netctl-docker-plugin",
            dependencies: ["CNM", "VXLAN", "Netlink", "CLinux", "JSON"],
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))]
        ),
        // … and runc's command line over netctl's OCI runtime, for Podman (conmon),
        // containerd's runc shim and dockerd.
        .executableTarget(
            name: "netctl-runc",
            dependencies: ["Runtime", "CNM", "JSON"],
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))]
        ),

        // Content trust's in-process costs for Benchmarks/trust.sh: not a product, nothing links it.
        .executableTarget(name: "netctl-bench", dependencies: ["Security", "Registry"], path: "Benchmarks/Swift/TrustBench"),

        // Tests.
        .target(name: "TestSupport", dependencies: ["Netlink"], path: "Tests/TestSupport"),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "TestSupport"]),
        .testTarget(name: "NFTablesTests", dependencies: ["NFTables", "Netlink", "TestSupport"]),
        .testTarget(name: "CNMTests", dependencies: ["CNM", "TestSupport"]),
        .testTarget(name: "DNSTests", dependencies: ["DNS", "TestSupport"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "TestSupport"]),
        .testTarget(name: "SecurityTests", dependencies: ["Security", "CSeccomp", "TestSupport"]),
        .testTarget(name: "NetctlTests", dependencies: ["TestSupport", "Netlink", "NFTables"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "Runtime", "Security", "TestSupport"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "VXLANTests", dependencies: ["VXLAN", "CNM", "DNS", "Netlink", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
