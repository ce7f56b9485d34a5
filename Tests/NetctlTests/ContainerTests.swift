import Foundation
import Netlink
import Testing
import TestSupport

/// Containers from real images, run by the netctl binary as a user runs them.
@Suite struct ContainerTests {
    @Test func imagesFromUmociAndSkopeoRun() throws {
        try withNetctl { netctl in
            let images = try TestImages.busybox()
            #expect(try netctl.ok("image", "import", images.layout).contains("Loaded image: layout:latest"))
            #expect(try netctl.ok("image", "import", images.archive).contains("Loaded image: nctest/busybox:latest"))
            // Both name the same image: the same config, so the same id.
            let ids = try netctl.ok("image", "ls", "-q").split(separator: "\n")
            #expect(ids.count == 1)
            for image in ["layout", "nctest/busybox:latest", String(ids[0])] {
                #expect(try netctl.ok("run", "--rm", image, "echo", "hello from \(image)") == "hello from \(image)\n")
            }
        }
    }

    @Test func aContainerHasItsOwnWorld() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let script = """
            echo pid=$$; hostname; cat /proc/self/mountinfo | while read a b c d mp rest; do echo mount=$mp; done
            cat /proc/keys /proc/timer_list | wc -c
            if echo x > /proc/sys/kernel/domainname; then echo sys=writable; else echo sys=readonly; fi
            if echo x > /sys/kernel/profiling 2>/dev/null; then echo sysfs=writable; else echo sysfs=readonly; fi
            ls /proc/kcore 2>/dev/null || echo kcore=absent
            ls /dev | tr '\\n' ' '
            """
            let output = try netctl.ok("run", "--rm", "--hostname", "box1", image, "sh", "-c", script)
            let lines = output.split(separator: "\n").map(String.init)
            #expect(lines.first == "pid=1")
            #expect(lines.contains("box1"))
            for mount in ["/", "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc/sys", "/proc/keys"] {
                #expect(lines.contains("mount=\(mount)"), "no \(mount) mount in \(output)")
            }
            // Nothing of the host's mount table shows through.
            #expect(!lines.contains("mount=/work") && !lines.contains("mount=/run/netns"))
            #expect(lines.contains("0"), "masked /proc files must read empty: \(output)")
            #expect(lines.contains("sys=readonly") && lines.contains("sysfs=readonly"))
            // This kernel has no /proc/kcore; where it has one, it is masked like /proc/keys.
            #expect(lines.contains("kcore=absent") || lines.contains("mount=/proc/kcore"))
            #expect(lines.last?.split(separator: " ").sorted() == ["fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"])
        }
    }

    @Test func userWorkdirEnvAndReadOnly() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let output = try netctl.ok("run", "--rm", "-u", "app", "-w", "/home/app", "-e", "GREETING=hi", "--read-only",
                                       "--tmpfs", "/scratch", image, "sh", "-c",
                                       "id; pwd; echo $GREETING; touch /x 2>/dev/null || echo rootfs=readonly; touch /scratch/y && echo tmpfs=writable")
            #expect(output == "uid=1000(app) gid=1000(app) groups=50(staff)\n/home/app\nhi\nrootfs=readonly\ntmpfs=writable\n")
            let unknown = try netctl.netctl("run", "--rm", "-u", "nobody", image, "true")
            #expect(unknown.status == 125 && unknown.stderr.contains("no user \"nobody\""))
        }
    }

    @Test func bindMounts() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let directory = NSTemporaryDirectory() + uniqueName("nctvol")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try "from the host\n".write(toFile: directory + "/in", atomically: true, encoding: .utf8)
            #expect(try netctl.ok("run", "--rm", "-v", "\(directory):/data", image, "sh", "-c", "cat /data/in; echo out > /data/out") == "from the host\n")
            #expect(try String(contentsOfFile: directory + "/out", encoding: .utf8) == "out\n")
            let readOnly = try netctl.netctl("run", "--rm", "-v", "\(directory):/data:ro", image, "sh", "-c", "echo no > /data/out")
            #expect(readOnly.status != 0 && readOnly.stderr.contains("Read-only"))
        }
    }

    @Test func exitCodesAsDocker() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            #expect(try netctl.netctl("run", "--rm", image, "sh", "-c", "exit 7").status == 7)
            let missing = try netctl.netctl("run", "--rm", image, "no-such-command")
            #expect(missing.status == 127)
            #expect(missing.stderr.contains("exec: \"no-such-command\": executable file not found in $PATH"))
            let notExecutable = try netctl.netctl("run", "--rm", image, "/etc/passwd")
            #expect(notExecutable.status == 126 && notExecutable.stderr.contains("permission denied"))
            #expect(try netctl.netctl("run", "--rm", "--memory", "lots", image, "true").status == 125)
            // A failed start leaves no container behind.
            #expect(try netctl.ok("ps", "-aq").isEmpty)
        }
    }

    @Test func pidsLimitStopsAForkLoop() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            // The shell counts the children it could start, and stops at the first refused fork.
            let loop = "i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); echo $i; done"
            let result = try netctl.netctl("run", "--rm", "--pids-limit", "8", image, "sh", "-c", loop)
            #expect(result.stderr.contains("can't fork"), "stderr: \(result.stderr)")
            // The shell itself is one of the 8.
            #expect(result.stdout.split(separator: "\n").last == "7")
        }
    }

    @Test func memoryLimitEndsInAnOOMKillThatInspectReports() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            // tail looks for a newline that /dev/zero never sends, holding all it read.
            let id = try netctl.ok("run", "-d", "--memory", "16m", image, "tail", "/dev/zero").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try netctl.ok("wait", id) == "137\n")
            let state = try inspectState(netctl, id)
            #expect(state["OOMKilled"] as? Bool == true)
            #expect(state["Status"] as? String == "exited")
            #expect(state["ExitCode"] as? Int == 137)
        }
    }

    @Test func detachedLifecycle() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            let id = try netctl.ok("run", "-d", "--name", "worker", image, "sh", "-c", "echo ready; exec sleep 60").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.count == 64)
            #expect(try netctl.ok("ps").contains("worker"))
            #expect(try inspectState(netctl, "worker")["Running"] as? Bool == true)
            // Its output is in the log.
            var log = ""
            for _ in 0..<50 where !log.contains("ready") {
                log = try netctl.ok("logs", "worker")
                usleep(20_000)
            }
            #expect(log == "ready\n")
            // exec runs inside: the same hostname, another pid, the container's processes.
            let inside = try netctl.ok("exec", "worker", "sh", "-c", "hostname; echo $$; ps -o comm | sort | tr '\\n' ' '")
            let lines = inside.split(separator: "\n")
            #expect(lines.first.map(String.init) == String(id.prefix(12)))
            #expect(lines.count == 3 && lines[1] != "1")
            #expect(lines.last?.contains("sleep") == true)
            #expect(try netctl.netctl("exec", "worker", "sh", "-c", "exit 3").status == 3)
            // A name is taken while the container exists.
            #expect(try netctl.netctl("run", "--name", "worker", image, "true").stderr.contains("already in use"))
            // rm refuses a running container without -f.
            #expect(try netctl.netctl("rm", "worker").status != 0)
            try netctl.ok("kill", "-s", "TERM", "worker")  // PID 1 ignores TERM without a handler
            try netctl.ok("stop", "-t", "1", "worker")
            let state = try inspectState(netctl, "worker")
            #expect(state["Running"] as? Bool == false)
            #expect(state["ExitCode"] as? Int == 137)
            #expect(try netctl.ok("wait", "worker") == "137\n")
            try netctl.ok("rm", "worker")
            #expect(try netctl.ok("ps", "-aq").isEmpty)
            #expect(try netctl.netctl("kill", "-s", "NOPE", "x").stderr.contains("not found") )
        }
    }

    @Test func containersOnANetworkTalkAndPublish() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.60.0/24", "front")
            let serve = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"
            try netctl.ok("run", "-d", "--name", "web", "--hostname", "web", "--network", "front", "-p", "8080:80", image, "sh", "-c", serve)
            let address = try #require(try inspectAddress(netctl, "web", network: "front"))
            #expect(address.hasPrefix("198.18.60."))
            // A second container reaches the first by address.
            try waitUntil { try netctl.netctl("run", "--rm", "--network", "front", image, "wget", "-qO-", "http://\(address)/").stdout == "hello from web\n" }
            #expect(try netctl.ok("port", "web") == "80/tcp -> 0.0.0.0:8080\n")
            // A container that joins web's network namespace reaches it on loopback.
            #expect(try netctl.ok("run", "--rm", "--network", "container:web", image, "wget", "-qO-", "http://127.0.0.1/") == "hello from web\n")
            // Several networks at once: an interface on each, in order.
            try netctl.ok("network", "create", "--subnet", "198.18.63.0/24", "back")
            let interfaces = try netctl.ok("run", "--rm", "--network", "front", "--network", "back", image, "sh", "-c",
                                           "ls /sys/class/net | tr '\\n' ' '; cat /etc/hosts | grep 198.18 | wc -l")
            #expect(interfaces == "eth0 eth1 lo 2\n")
            // The published port answers from a client outside.
            try withClient(of: netctl) { client in
                // (The host's busybox-static wget crashes in its resolver code; python does not.)
                let get = "import urllib.request; print(urllib.request.urlopen('http://\(Client.hostAddress):8080/', timeout=3).read().decode(), end='')"
                let fetch = ["nsenter", "--net=/run/netns/\(client.namespace.name)", "python3", "-c", get]
                let answer = try runCommand(fetch)
                #expect(answer.stdout == "hello from web\n", "wget: \(answer.status) \(answer.stderr)")
            }
        }
    }

    @Test func removeLeavesNothingBehind() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.61.0/24", "tmp")
            let before = try netctl.hostLinks()
            // The hostname is the id's first 12 digits, which name the sandbox too.
            let hostname = try netctl.ok("run", "--rm", "--network", "tmp", "-p", "8081:80", image, "hostname")
            #expect(hostname.count == 13)
            #expect(try netctl.ok("ps", "-aq").isEmpty)
            #expect(try netctl.ok("sandbox", "ls", "-q").isEmpty)
            #expect(!NetworkNamespace.exists(named: "nc-" + hostname.dropLast()))
            #expect(!(try runCommand(["nft", "list", "ruleset"]).stdout.contains("8081")))
            let containers = netctl.root + "/storage/containers"
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: containers)) ?? []).isEmpty)
            // The veth goes with the namespace, which the kernel frees in the background.
            try waitUntil { try netctl.hostLinks() == before }
            // The same for a detached --rm container once it ends.
            try netctl.ok("run", "-d", "--rm", "--name", "short", "--network", "tmp", image, "true")
            try waitUntil { try netctl.ok("ps", "-aq").isEmpty }
            try waitUntil { try netctl.hostLinks() == before }
        }
    }

    @Test func aKilledRunIsCleanedUpByReconcile() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            try netctl.ok("network", "create", "--subnet", "198.18.62.0/24", "k")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: NetctlHarness.binary)
            process.arguments = ["run", "--name", "victim", "--network", "k", image, "sleep", "60"]
            process.environment = ProcessInfo.processInfo.environment.merging(netctl.environment) { $1 }
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            try waitUntil { (try? inspectState(netctl, "victim"))?["Running"] as? Bool == true }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // The container dies with its supervisor; reconcile records it and frees its network.
            try waitUntil { try inspectState(netctl, "victim")["Running"] as? Bool == false }
            let report = try netctl.ok("system", "reconcile")
            #expect(try netctl.ok("sandbox", "ls", "-q").isEmpty, "reconcile said: \(report)")
            #expect(try inspectState(netctl, "victim")["Status"] as? String == "exited")
            try netctl.ok("rm", "victim")
        }
    }

    @Test func aTerminalAndForwardedSignals() throws {
        try withNetctl { netctl in
            let image = try netctl.importBusybox()
            // script(1) gives the foreground run a terminal of its own.
            let command = "\(NetctlHarness.binary) run --rm -t \(image) sh -c 'tty; echo $TERM'"
            let result = try runCommand(["script", "-qec", command, "/dev/null"], environment: netctl.environment)
            #expect(result.status == 0)
            #expect(result.stdout.contains("/dev/pts/0") && result.stdout.contains("xterm"), "\(result.stdout)")

            // SIGTERM to `run` reaches the container's command, whose exit code `run` returns.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: NetctlHarness.binary)
            process.arguments = ["run", "--rm", "--name", "trapper", image, "sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo ready; sleep 30 & wait"]
            process.environment = ProcessInfo.processInfo.environment.merging(netctl.environment) { $1 }
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            try waitUntil { (try? inspectState(netctl, "trapper"))?["Running"] as? Bool == true }
            usleep(200_000)  // until the trap is set
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            #expect(process.terminationStatus == 3)
            #expect(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "ready\ngot TERM\n")
        }
    }

    // MARK: Helpers

    private func inspectState(_ netctl: NetctlHarness, _ container: String) throws -> [String: Any] {
        let json = try JSONSerialization.jsonObject(with: Data(try netctl.ok("inspect", container).utf8)) as? [[String: Any]]
        return try #require(json?.first?["State"] as? [String: Any])
    }

    private func inspectAddress(_ netctl: NetctlHarness, _ container: String, network: String) throws -> String? {
        try netctl.address(of: container, on: network)
    }

    private func waitUntil(seconds: Double = 5, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            usleep(50_000)
        }
        #expect(try condition(), "condition not met within \(seconds) s")
    }
}
