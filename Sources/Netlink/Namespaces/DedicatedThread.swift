import CNetlink

/// Runs `body` on a new thread and waits for it. setns() and unshare() change only the
/// calling thread, and Swift code may hop threads between statements, so namespace work
/// happens on a thread that exists for nothing else and ends with the work.
func onDedicatedThread<T>(_ body: () throws -> T) throws -> T {
    var result: Result<T, any Error>?
    try withoutActuallyEscaping({ result = Result { try body() } }) { run in
        let context = Unmanaged.passRetained(ThreadWork(run)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<ThreadWork>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<ThreadWork>.fromOpaque(context).release()
            throw NetlinkError.system("pthread_create", "namespace thread", errno: status)
        }
        pthread_join(thread, nil)
    }
    return try result!.get()
}

/// The work handed to the new thread. The caller blocks in pthread_join while it runs, so
/// nothing is shared concurrently.
private final class ThreadWork: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
