import CRanks
import Foundation
import Tensor

/// The ranks of a run under mpirun (MPI_COMM_WORLD). A collective call that
/// fails stops every rank: they could not agree on anything more.
public final class MPIRanks: Communicator, @unchecked Sendable {
    public let rank: Int, count: Int
    /// The packed buffer of `sum(_ tensors:)` (allocated once, grown as needed).
    private var packed = Tensor(shape: [0])

    fileprivate init() {
        rank = Int(bsn_ranks_rank())
        count = Int(bsn_ranks_count())
    }

    public func sum(_ values: inout [Double]) {
        let status = values.withUnsafeMutableBufferPointer { bsn_ranks_sum_double($0.baseAddress, $0.count) }
        if status != 0 { fail("all-reduce failed (MPI error \(status))") }
    }

    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let status = bsn_ranks_sum_float(values, count)
        if status != 0 { fail("all-reduce failed (MPI error \(status))") }
    }

    public func sum(_ tensors: [Tensor], scale: Float) {
        let total = tensors.reduce(0) { $0 + $1.count }
        guard total > 0 else { return }
        if packed.count != total { packed = Tensor(shape: [total]) }
        let buffer = packed.data
        var at = 0
        for t in tensors {
            (buffer + at).update(from: t.data, count: t.count)
            at += t.count
        }
        if scale != 1 { for k in 0..<total { buffer[k] *= scale } }
        sum(buffer, count: total)
        at = 0
        for t in tensors {
            t.data.update(from: buffer + at, count: t.count)
            at += t.count
        }
    }

    public func startSum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let status = bsn_ranks_start_sum_float(values, count)
        if status != 0 { fail("all-reduce failed to start (MPI error \(status))") }
    }

    public func progressSums() {
        let status = bsn_ranks_progress_sums()
        if status != 0 { fail("all-reduce failed (MPI error \(status))") }
    }

    public func finishSums() {
        let status = bsn_ranks_finish_sums()
        if status != 0 { fail("all-reduce failed (MPI error \(status))") }
    }

    public func barrier() {
        if bsn_ranks_barrier() != 0 { fail("barrier failed") }
    }

    public func broadcast(_ data: Data) -> Data {
        var size = [isLeader ? Double(data.count) : 0]
        sum(&size)
        var bytes = isLeader ? [UInt8](data) : [UInt8](repeating: 0, count: Int(size[0]))
        let status = bytes.withUnsafeMutableBytes { bsn_ranks_broadcast($0.baseAddress, $0.count, 0) }
        if status != 0 { fail("broadcast failed (MPI error \(status))") }
        return Data(bytes)
    }

    private func fail(_ what: String) -> Never {
        try? FileHandle.standardError.write(contentsOf: Data("bsn: rank \(rank) of \(count): \(what); stopping every rank\n".utf8))
        bsn_ranks_abort(1)
        fatalError()
    }
}

/// The process's side of MPI: started once by the executable, which hands
/// the communicator it returns to whatever trains.
public enum Ranks {
    /// Starts MPI when the process was launched by mpirun with more than one
    /// rank, and returns its ranks; otherwise a single process (MPI is not started).
    public static func start() -> any Communicator {
        bsn_ranks_start() > 1 ? MPIRanks() : SingleProcess()
    }
    /// Ends MPI (at exit; nothing when it was not started).
    public static func finish() { bsn_ranks_finish() }

    /// Ends every rank with this status (MPI_Abort; a plain exit without mpirun).
    public static func abort(_ status: Int32) -> Never {
        bsn_ranks_abort(status)
        fatalError("unreachable")
    }
}
