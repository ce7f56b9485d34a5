@testable import Runtime
import Testing

/// The /etc/resolv.conf a container gets, and the checks of `--dns`, `--dns-option`,
/// `--dns-search` and `--add-host`.
@Suite struct ResolvConfTests {
    let host = "# from the host\nnameserver 127.0.0.53\nnameserver 198.18.9.53\nsearch corp.test lab.test\noptions edns0 trust-ad\n"

    @Test func onANetworkWithNamesTheResolverAsDockerWritesIt() {
        #expect(ContainerRuntime.resolvConf(host: host, servers: nil, search: nil, options: nil, hostNetwork: false, served: true)
                == "nameserver 127.0.0.11\nsearch corp.test lab.test\noptions ndots:0\n")
        // --dns goes to the resolver's upstreams, not here; the user's ndots wins.
        #expect(ContainerRuntime.resolvConf(host: host, servers: ["198.18.9.1"], search: ["x.test"], options: ["ndots:3", "rotate"],
                                            hostNetwork: false, served: true)
                == "nameserver 127.0.0.11\nsearch x.test\noptions ndots:3 rotate\n")
        #expect(ContainerRuntime.resolvConf(host: host, servers: nil, search: ["."], options: ["edns0"], hostNetwork: false, served: true)
                == "nameserver 127.0.0.11\noptions ndots:0 edns0\n")
    }

    @Test func withoutNamesTheHostsFileLessLoopbackOrTheFlagsLines() {
        #expect(ContainerRuntime.resolvConf(host: host, servers: nil, search: nil, options: nil, hostNetwork: false, served: false)
                == "# from the host\nnameserver 198.18.9.53\nsearch corp.test lab.test\noptions edns0 trust-ad\n")
        #expect(ContainerRuntime.resolvConf(host: host, servers: nil, search: nil, options: nil, hostNetwork: true, served: false) == host)
        #expect(ContainerRuntime.resolvConf(host: host, servers: ["198.18.9.1", "2001:db8::53"], search: nil, options: nil,
                                            hostNetwork: false, served: false)
                == "nameserver 198.18.9.1\nnameserver 2001:db8::53\nsearch corp.test lab.test\noptions edns0 trust-ad\n")
        #expect(ContainerRuntime.resolvConf(host: host, servers: nil, search: ["x.test"], options: ["ndots:2"], hostNetwork: false, served: false)
                == "nameserver 198.18.9.53\nsearch x.test\noptions ndots:2\n")
    }

    @Test func flagsAreCheckedBeforeAnythingIsMade() throws {
        var request = RunRequest(image: "img")
        request.dnsOptions = ["ndots:2", "timeout:1", "attempts:3", "rotate", "edns0", "single-request-reopen", "use-vc", "trust-ad"]
        request.dns = ["198.18.9.1", "2001:db8::1"]
        request.dnsSearch = ["corp.test", "."]
        request.addHosts = ["db:198.18.9.9", "v6:2001:db8::9", "b6:[2001:db8::10]"]
        request.aliases = ["web", "web.v2", "w_1"]
        var config = ContainerRecord.HostConfig(networks: .none, publish: [], publishAll: false, readOnly: false, binds: [], tmpfs: [],
                                                limits: .init(memory: nil, nanoCPUs: nil, pids: nil), autoRemove: false, detached: false)
        try ContainerRuntime.recordNameSettings(request, into: &config)
        #expect(config.dns == ["198.18.9.1", "2001:db8::1"])
        let entry = try ContainerRuntime.parseHostEntry("b6:[2001:db8::10]")
        #expect(entry.name == "b6" && entry.address == "2001:db8::10")

        for (field, value) in [("dns", "999.1.1.1"), ("dns-option", "junk"), ("dns-option", "ndots:"), ("dns-option", "ndots:x"),
                               ("dns-search", "a b"), ("add-host", "nocolon"), ("add-host", "db:999.1.1.1"), ("alias", "bad name!")] {
            var bad = RunRequest(image: "img")
            switch field {
            case "dns": bad.dns = [value]
            case "dns-option": bad.dnsOptions = [value]
            case "dns-search": bad.dnsSearch = [value]
            case "add-host": bad.addHosts = [value]
            default: bad.aliases = [value]
            }
            #expect(throws: RuntimeError.self, "\(field) \(value)") { try ContainerRuntime.recordNameSettings(bad, into: &config) }
        }
    }
}
