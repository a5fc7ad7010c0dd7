import CRanks
import Foundation

/// The processes of a run under `mpirun` (MPI ranks). Without mpirun there is
/// one rank, 0, and nothing here calls MPI: a plain bsn is a single process.
public enum Ranks {
    /// Starts MPI when the process was launched by mpirun (call once, first thing).
    public static func start() { _ = bsn_ranks_start() }
    /// Ends MPI (at exit).
    public static func finish() { bsn_ranks_finish() }

    public static var rank: Int { Int(bsn_ranks_rank()) }
    public static var count: Int { Int(bsn_ranks_count()) }
    /// True under mpirun with more than one rank.
    public static var distributed: Bool { count > 1 }
    /// Rank 0 prints, asks and writes; the others follow.
    public static var isLeader: Bool { rank == 0 }
    /// Threads a rank uses by default: the cores split between the ranks on this machine.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount / Int(bsn_ranks_local_count())) }

    /// Ends every rank with this status (MPI_Abort; a plain exit without mpirun).
    public static func abort(_ status: Int32) -> Never {
        bsn_ranks_abort(status)
        fatalError("unreachable")
    }

    /// Every rank's values added together, in every rank.
    public static func sum(_ values: inout [Double]) {
        guard distributed else { return }
        let status = values.withUnsafeMutableBufferPointer { bsn_ranks_sum_double($0.baseAddress, $0.count) }
        if status != 0 { fail("all-reduce failed (MPI error \(status))") }
    }

    /// Every rank's floats added together, in place, in every rank.
    public static func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        guard distributed else { return }
        let status = bsn_ranks_sum_float(values, count)
        if status != 0 { fail("all-reduce failed (MPI error \(status))") }
    }

    /// Each rank's values placed at its offset in a vector of `total`, in every rank.
    public static func gather(_ local: [Double], at offset: Int, total: Int) -> [Double] {
        var all = [Double](repeating: 0, count: total)
        for (k, v) in local.enumerated() { all[offset + k] = v }
        sum(&all)
        return all
    }

    /// This rank's rows of a global batch of `n`: rank r of R takes [n·r/R, n·(r+1)/R).
    public static func shard(of n: Int) -> Range<Int> { (n * rank / count)..<(n * (rank + 1) / count) }

    /// Waits for every rank.
    public static func barrier() {
        guard distributed else { return }
        if bsn_ranks_barrier() != 0 { fail("barrier failed") }
    }

    /// Rank 0's bytes, in every rank.
    public static func broadcast(_ data: Data) -> Data {
        guard distributed else { return data }
        var size = [Double(data.count)]
        if !isLeader { size = [0] }
        sum(&size)
        var bytes = isLeader ? [UInt8](data) : [UInt8](repeating: 0, count: Int(size[0]))
        let status = bytes.withUnsafeMutableBytes { bsn_ranks_broadcast($0.baseAddress, $0.count, 0) }
        if status != 0 { fail("broadcast failed (MPI error \(status))") }
        return Data(bytes)
    }

    /// A collective call failed: the ranks cannot agree on anything more; every one stops.
    private static func fail(_ what: String) -> Never {
        FileHandle.standardError.write(Data("bsn: rank \(rank) of \(count): \(what); stopping every rank\n".utf8))
        bsn_ranks_abort(1)
        fatalError()
    }
}
