import Foundation

public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to its end and collects its output. Stdin is `input`, or closed.
public func runCommand(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment
    for (key, value) in environment { merged[key] = value }
    process.environment = merged
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let stdin = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : stdin
    try process.run()
    if let input {
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
    }
    // Read both pipes while the program runs, so a chatty one cannot block on a full pipe.
    let errorData = LockedData()
    let reader = Thread { errorData.set(err.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errorData.isSet { usleep(1000) }
    return CommandResult(status: process.terminationStatus,
                         stdout: String(decoding: output, as: UTF8.self),
                         stderr: String(decoding: errorData.get(), as: UTF8.self))
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?
    func set(_ value: Data) { lock.lock(); data = value; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data ?? Data() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return data != nil }
}

/// Starts every command before waiting for any, so they truly run at once; stdout and
/// stderr go to files so no process blocks on a full pipe.
public func runConcurrently(_ commands: [[String]], environment: [String: String] = [:]) throws -> [CommandResult] {
    try runConcurrently(commands, environments: commands.map { _ in environment })
}

/// The same, each command with environment variables of its own.
public func runConcurrently(_ commands: [[String]], environments: [[String: String]]) throws -> [CommandResult] {
    let directory = NSTemporaryDirectory() + uniqueName("netctl-concurrent-")
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var running: [Process] = []
    for (index, arguments) in commands.enumerated() {
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environments[index] { merged[key] = value }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = merged
        FileManager.default.createFile(atPath: "\(directory)/\(index).out", contents: nil)
        FileManager.default.createFile(atPath: "\(directory)/\(index).err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "\(directory)/\(index).out")
        process.standardError = FileHandle(forWritingAtPath: "\(directory)/\(index).err")
        process.standardInput = FileHandle.nullDevice
        try process.run()
        running.append(process)
    }
    return running.enumerated().map { index, process in
        process.waitUntilExit()
        let read = { (suffix: String) in String(decoding: FileManager.default.contents(atPath: "\(directory)/\(index).\(suffix)") ?? Data(), as: UTF8.self) }
        return CommandResult(status: process.terminationStatus, stdout: read("out"), stderr: read("err"))
    }
}
