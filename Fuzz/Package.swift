// swift-tools-version:5.4
// (5.4, not newer: from 5.5 SwiftPM renames an executable's main and links `main` to it,
// which leaves nothing for libFuzzer's own main to be.)
// libFuzzer targets for netctl's parsers of outside data. A package of its own, so the main
// package's build and tests are untouched unless fuzzing runs; see `make fuzz` and
// `make fuzz-check`. Built with `-sanitize=fuzzer,address -parse-as-library` (the Makefile
// passes them), each target is a program libFuzzer drives through LLVMFuzzerTestOneInput.
import PackageDescription

let package = Package(
    name: "netctl-fuzz",
    dependencies: [.package(name: "netctl", path: "..")],
    targets: [
        // rtnetlink dump answers, through NetlinkSession's own readers.
        .executableTarget(name: "FuzzNetlink", dependencies: [.product(name: "Netlink", package: "netctl")]),
        // nf_tables dump answers, through the reader NFTablesSession uses.
        // (libnftnl exits the process on attributes of the wrong size; CExitGuard turns
        // that into a skipped input, since it is libnftnl's rule, not netctl's code.)
        .executableTarget(name: "FuzzNFTables", dependencies: ["CExitGuard", .product(name: "NFTables", package: "netctl")]),
        .target(name: "CExitGuard"),
        // Docker/OCI seccomp JSON, decoded and compiled with libseccomp.
        .executableTarget(name: "FuzzSeccomp", dependencies: [.product(name: "Security", package: "netctl")]),
        // OCI index, manifest, image config, docker save's manifest.json, runtime config.json.
        .executableTarget(name: "FuzzOCI", dependencies: [.product(name: "Runtime", package: "netctl")]),
        // `-p` and `--expose`.
        .executableTarget(name: "FuzzPortSpec", dependencies: [.product(name: "CNM", package: "netctl")]),
        // Tar entry names (and symlink targets) placed inside a root, as the extractor does.
        .executableTarget(name: "FuzzTarNames", dependencies: [.product(name: "Runtime", package: "netctl")]),
        // The overlay's outside data: lab files (YAML), cluster store strings, the cluster
        // records read from etcd, and etcd's JSON gateway answers (ranges, watch streams).
        .executableTarget(name: "FuzzOverlay", dependencies: [.product(name: "VXLAN", package: "netctl")]),
        // DNS messages: what containers send the resolver, and upstream answers.
        .executableTarget(name: "FuzzDNS", dependencies: [.product(name: "DNS", package: "netctl")]),
        // What registries and users' files hand a pull, push or login: references, manifest
        // answers, manifests and indexes with platform selection, WWW-Authenticate, error
        // bodies, the auth file and registries.json, through `RegistryOutsideData`.
        .executableTarget(name: "FuzzRegistry", dependencies: [.product(name: "Registry", package: "netctl")]),
        // Trust metadata of both dialects (TUF 1.0, Notary v1), RFC 3339 times.
        .executableTarget(name: "FuzzTrust", dependencies: [.product(name: "Security", package: "netctl")]),
        // What `scan db import` reads (OSV files), CVSS v3 vectors, and the version orderings
        // of every scheme (Debian, apk, RPM, PEP 440, SemVer, Go).
        .executableTarget(name: "FuzzScan", dependencies: [.product(name: "Security", package: "netctl")]),
        // What the plug-ins read: JSON documents (round trip), netctl-cni's network
        // configuration, the Docker plugin's HTTP/1.1 requests and bodies. The two plug-ins
        // are executables, so their pure readers are linked in by symlinks, each into a
        // module of its own (both have a PluginError).
        .executableTarget(name: "FuzzPlugins", dependencies: [
            "FuzzPluginsCNI", "FuzzPluginsDocker", .product(name: "JSON", package: "netctl"),
        ]),
        .target(name: "FuzzPluginsCNI", dependencies: [.product(name: "JSON", package: "netctl"), .product(name: "Netlink", package: "netctl")]),
        .target(name: "FuzzPluginsDocker", dependencies: [.product(name: "JSON", package: "netctl")]),
    ]
)
