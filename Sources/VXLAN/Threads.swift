import Glibc

/// Threads of the VXLAN module's own (the lab's parallel steps, the agent's lease and
/// metrics loops), over pthreads: the module does not load Foundation's Thread.
enum Threads {
    final class Work: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        let work = Unmanaged.passRetained(Work(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            Unmanaged<Work>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, work)
        if result != 0 {
            // No thread to be had: do the work here.
            Unmanaged<Work>.fromOpaque(work).takeRetainedValue().body()
            return 0
        }
        return thread
    }

    static func join(_ thread: pthread_t) {
        if thread != 0 { pthread_join(thread, nil) }
    }

    /// A thread nobody joins: it ends with the process.
    static func detached(_ body: @escaping @Sendable () -> Void) {
        let thread = start(body)
        if thread != 0 { pthread_detach(thread) }
    }
}
