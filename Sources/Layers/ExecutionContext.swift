import Foundation
import Tensor

/// Where a network computes: how many threads, with which other processes,
/// in which scratch memory, with which convolution algorithms. A session owns
/// one and builds its network in it; every layer, the executor and the
/// trainer read these from the context they were built with, never from a
/// global, so two sessions in one process do not see each other's settings.
public final class ExecutionContext: @unchecked Sendable {
    /// Worker threads of every parallel loop (at least 1).
    public var threads: Int {
        didSet { threads = max(1, threads) }
    }
    /// The ranks that train together: a single process, or MPI's ranks when
    /// the batch is split across them (data-parallel training).
    public var communicator: any Communicator
    /// With more than one rank: batch norm's training statistics over the
    /// whole batch (every rank's rows), not each rank's own (sync-bn).
    public var synchronisedBatchNorm = false
    /// Scratch buffers, one set per worker thread.
    public let workspace = Workspace()
    /// The convolution algorithm of each shape.
    public let convolutions: ConvolutionChoices

    public init(threads: Int, communicator: any Communicator = SingleProcess(),
                convolutions: ConvolutionChoices = ConvolutionChoices()) {
        self.threads = max(1, threads)
        self.communicator = communicator
        self.convolutions = convolutions
    }
}
