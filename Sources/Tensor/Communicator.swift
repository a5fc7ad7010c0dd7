import Foundation

/// The processes that train one model together, and the collective calls
/// between them. A plain bsn is one process (`SingleProcess`: every call
/// returns at once); under `mpirun` the ranks talk through MPI (`MPIRanks`,
/// in the MPISupport module: only the executable links MPI).
/// Code that combines work across ranks calls these unconditionally: with
/// one process a sum is the identity and a shard is the whole batch.
public protocol Communicator: AnyObject, Sendable {
    /// This process's rank, 0 ..< count.
    var rank: Int { get }
    var count: Int { get }
    /// Every rank's values added together, in every rank.
    func sum(_ values: inout [Double])
    /// Every rank's floats added together, in place, in every rank.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int)
    /// Every element of these tensors summed across ranks after being
    /// multiplied by `scale` (one all-reduce of one packed buffer).
    func sum(_ tensors: [Tensor], scale: Float)
    /// Starts summing `count` floats in place across ranks and returns at
    /// once (MPI_Iallreduce): they hold the sum after `finishSums`, and must
    /// not be touched before. Every rank starts the same sums in the same order.
    func startSum(_ values: UnsafeMutablePointer<Float>, count: Int)
    /// Lets the started sums advance (MPI moves them only inside its calls).
    func progressSums()
    /// Waits until every started sum is done.
    func finishSums()
    /// Waits for every rank.
    func barrier()
    /// Rank 0's bytes, in every rank.
    func broadcast(_ data: Data) -> Data
}

extension Communicator {
    /// More than one rank.
    public var distributed: Bool { count > 1 }
    /// Rank 0 prints, asks and writes; the others follow.
    public var isLeader: Bool { rank == 0 }

    /// Each rank's values placed at its offset in a vector of `total`, in every rank.
    public func gather(_ local: [Double], at offset: Int, total: Int) -> [Double] {
        var all = [Double](repeating: 0, count: total)
        for (k, v) in local.enumerated() { all[offset + k] = v }
        sum(&all)
        return all
    }

    /// This rank's rows of a global batch of `n`: rank r of R takes [n·r/R, n·(r+1)/R).
    public func shard(of n: Int) -> Range<Int> { (n * rank / count)..<(n * (rank + 1) / count) }
}

/// One process: rank 0 of 1.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var count: Int { 1 }
    public func sum(_ values: inout [Double]) {}
    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {}
    public func sum(_ tensors: [Tensor], scale: Float) {
        guard scale != 1 else { return }
        for t in tensors { for k in 0..<t.count { t.data[k] *= scale } }
    }
    public func startSum(_ values: UnsafeMutablePointer<Float>, count: Int) {}
    public func progressSums() {}
    public func finishSums() {}
    public func barrier() {}
    public func broadcast(_ data: Data) -> Data { data }
}

/// The machine's cores as bsn shares them.
public enum Cores {
    /// Threads a process uses by default: the cores split between the ranks
    /// on this machine (mpirun says how many it started here).
    public static var perRank: Int {
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
    }
}
