import CRuntimeShim
import Glibc
import Security

/// `netctl exec`.
public struct ExecRequest: Sendable {
    public var container: String
    public var command: [String]
    public var env: [String] = []
    public var workdir: String?
    public var user: String?
    public var interactive = false
    public var tty = false

    public init(container: String, command: [String]) {
        self.container = container
        self.command = command
    }
}

extension ContainerRuntime {
    /// Runs a command inside a running container: its namespaces and cgroups, its
    /// environment and user unless overridden. Returns the command's exit code.
    public func exec(_ request: ExecRequest) throws -> Int32 {
        let record = try container(request.container)
        guard isRunning(record) else { throw RuntimeError("container \(record.name) is not running") }
        guard let command = request.command.first, !command.isEmpty else { throw RuntimeError("exec: no command given") }

        var plan = LaunchPlan()
        var opened: [Int32] = []
        defer { opened.forEach { close($0) } }
        try plan.join(record.state.pid, cgroups: record.cgroups, container: record.name, opened: &opened)
        if let user = request.user {
            let image = try images.image(id: record.imageID)
            let identity = try UserLookup(layers: images.layerPaths(of: image)).resolve(user)
            (plan.uid, plan.gid, plan.groups) = identity
        } else {
            (plan.uid, plan.gid, plan.groups) = (record.config.uid, record.config.gid, record.config.groups)
        }
        let workdir = request.workdir ?? record.config.workingDir
        guard workdir.hasPrefix("/") else { throw RuntimeError("invalid -w \"\(workdir)\": expected an absolute path") }
        plan.cwd = workdir
        var env = record.config.env
        for item in request.env {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw RuntimeError("invalid -e \"\(item)\": expected KEY=VALUE")
            }
            env.removeAll { $0.hasPrefix("\(item[..<equals])=") }
            env.append(item)
        }
        plan.env = env
        plan.argv = request.command
        try confine(&plan, record, uid: plan.uid)

        let console = request.tty ? try Console() : nil
        if let console {
            plan.consoleSocket = console.childEnd
        } else {
            let input = request.interactive ? 0 : devNull()
            if input > 2 { opened.append(input) }
            plan.stdio = [input, 1, 2]
        }
        let pid = try Launcher.spawn(plan, what: "exec in \(record.name)")
        let code = try Launcher.waitForwarding(pid, console: console, interactive: request.interactive)
        return code
    }
}
