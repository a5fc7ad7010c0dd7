import Synchronization

/// Asks long work (training, evaluation, loading) to stop at its next
/// boundary. The caller owns the token and passes it to the work; a signal
/// handler or another thread may call `cancel`.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
    public func cancel() { flag.store(true, ordering: .relaxed) }
    /// Makes the token usable again (the next command starts uncancelled).
    public func reset() { flag.store(false, ordering: .relaxed) }
    /// A token nobody cancels.
    public static let never = Cancellation()
}
