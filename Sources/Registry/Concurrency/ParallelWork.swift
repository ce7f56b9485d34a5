import Glibc
import Synchronization

/// Items `0..<count` worked through by threads of their own, in order, each item once:
/// the layer downloads of a pull, the blob uploads of a push. Blocking HTTP, so neither
/// the cooperative pool nor Dispatch's (which grows a thread per blocked item). The first
/// error stops items not yet started; `wait` joins every thread and throws it.
final class ParallelWork: Sendable {
    private struct State {
        var next = 0
        var stopped = false
        var failure: (any Error)?
    }

    private let count: Int
    private let body: @Sendable (Int) throws -> Void
    private let state = Mutex(State())
    private let threads = Mutex<[pthread_t]>([])

    fileprivate init(count: Int, body: @escaping @Sendable (Int) throws -> Void) {
        self.count = count
        self.body = body
    }

    /// Starts up to `width` threads (at least one) on the items. When no thread can be
    /// had, the items are done here before it returns: a caller waiting on an item's
    /// outcome must never wait for work nobody does.
    static func start(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> ParallelWork {
        let work = ParallelWork(count: count, body: body)
        if work.spawn(min(max(width, 1), count)) == 0 { work.run() }
        return work
    }

    /// Stops items not yet started (those running finish).
    func stop() { state.withLock { $0.stopped = true } }

    /// Joins the threads; the first item's error, if any.
    func wait() throws {
        for thread in threads.withLock({ $0 }) { pthread_join(thread, nil) }
        threads.withLock { $0 = [] }
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// Takes items until none is left, work stopped or an item failed.
    fileprivate func run() {
        while true {
            let index: Int? = state.withLock { state in
                guard !state.stopped, state.failure == nil, state.next < count else { return nil }
                defer { state.next += 1 }
                return state.next
            }
            guard let index else { return }
            do { try body(index) } catch {
                state.withLock { if $0.failure == nil { $0.failure = error } }
            }
        }
    }

    /// Threads started, of `wanted`.
    fileprivate func spawn(_ wanted: Int) -> Int {
        var started = 0
        for _ in 0..<max(wanted, 0) {
            let context = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let made = pthread_create(&thread, nil, { context in
                Unmanaged<ParallelWork>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
            if made == 0 {
                threads.withLock { $0.append(thread) }
                started += 1
            } else {
                Unmanaged<ParallelWork>.fromOpaque(context).release()
            }
        }
        return started
    }
}

/// Runs `body(0..<count)` on up to `width` threads, this one among them (so one thread, or
/// none to be had, still gets it all done), and returns when all have ended: the first
/// error is thrown then.
func forEachInParallel(_ count: Int, width: Int, _ body: @Sendable (Int) throws -> Void) throws {
    guard count > 0 else { return }
    try withoutActuallyEscaping(body) { body in
        // `wait` joins every thread before this returns: the body does not outlive the call.
        let work = ParallelWork(count: count, body: body)
        _ = work.spawn(min(width, count) - 1)
        work.run()
        try work.wait()
    }
}
