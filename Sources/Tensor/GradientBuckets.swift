import Foundation

/// The weight gradients summed across ranks in buckets, each started without
/// waiting as soon as backward has finished every gradient in it, so that the
/// all-reduce runs under the rest of backward (PyTorch DDP's buckets,
/// Horovod's fusion buffers).
///
/// Backward walks a graph from its output to its input: the gradients of
/// node i are final once it has passed node i. `groups[i]` are node i's
/// gradients. A bucket takes the gradients of consecutive nodes from the
/// last node down until it holds `bucketBytes`; it starts when backward
/// passes its lowest node, and buckets start in that order on every rank.
/// Each element is summed once, in a packed buffer, as the fused all-reduce
/// sums it: at 2 ranks every sum is fl(a + b) whatever the buckets, so the
/// two give the same bits.
///
/// With `bucketBytes` 0, or a single process, `finish` sums every gradient
/// in one all-reduce after backward (fused; nothing at all on one process).
public final class GradientBuckets {
    /// The bucket sizes a user may choose (bytes), besides 0 (one all-reduce after backward) and automatic.
    public static let chosenBytes = 4_000...4_000_000_000

    /// Bytes per bucket unless set (`set allreduce-bucket`): the gradients
    /// × ranks / 32 (a sixteenth at 2 ranks), from 256 kB to 25 MB. Chosen by
    /// measurement and by the step model (docs/benchmarks.md, "Overlapped
    /// all-reduce"): small buckets start early, so that little is left to send
    /// when backward ends; but each bucket's ring all-reduce pays the latency
    /// of 2·(ranks − 1) messages, so buckets grow with the ranks.
    public static func automaticBytes(gradientBytes: Int, ranks: Int) -> Int {
        min(max(gradientBytes / 32 * ranks, 256_000), 25_000_000)
    }

    public let communicator: any Communicator
    /// Bytes per bucket (0: fused).
    public let bucketBytes: Int
    /// Seconds the last `finish` waited: the part of the all-reduce that backward did not hide.
    public private(set) var lastWait: Double = 0

    private struct Bucket {
        let tensors: [Tensor]
        /// Started once backward has passed this node.
        let lowestNode: Int
        /// The gradients, packed (allocated once).
        let packed: Tensor
    }
    private let buckets: [Bucket]
    private var started = 0
    private let all: [Tensor]

    /// `bucketBytes` nil: `automaticBytes`.
    public init(groups: [[Tensor]], bucketBytes: Int?, communicator: any Communicator) {
        self.communicator = communicator
        all = groups.flatMap { $0 }
        let bucketBytes = max(0, bucketBytes ?? Self.automaticBytes(gradientBytes: 4 * all.reduce(0) { $0 + $1.count }, ranks: communicator.count))
        self.bucketBytes = bucketBytes
        var buckets = [Bucket](), tensors = [Tensor](), bytes = 0, lowest = 0
        func close() {
            guard !tensors.isEmpty else { return }
            buckets.append(Bucket(tensors: tensors, lowestNode: lowest, packed: Tensor(shape: [bytes / 4])))
            (tensors, bytes) = ([], 0)
        }
        if communicator.distributed && bucketBytes > 0 {
            for node in groups.indices.reversed() {
                for t in groups[node] where t.count > 0 {
                    tensors.append(t)
                    bytes += 4 * t.count
                    lowest = node
                }
                if bytes >= bucketBytes { close() }
            }
            close()
        }
        self.buckets = buckets
    }

    /// Buckets this reduction uses (0: fused).
    public var bucketCount: Int { buckets.count }

    /// Before backward: no bucket started (a backward pass that threw may
    /// have left sums running: they end first, their buffers are reused).
    public func begin() {
        if started > 0 && started < buckets.count { communicator.finishSums() }
        started = 0
    }

    /// Backward has passed `node` (and every node after it): starts the
    /// buckets now complete, and lets the started ones advance.
    public func backwardPassed(node: Int) {
        while started < buckets.count && buckets[started].lowestNode >= node {
            start(buckets[started])
            started += 1
        }
        if started > 0 { communicator.progressSums() }
    }

    /// After backward: every gradient holds its sum across ranks.
    public func finish() {
        let t0 = DispatchTime.now().uptimeNanoseconds
        if buckets.isEmpty {
            communicator.sum(all, scale: 1)
        } else {
            backwardPassed(node: 0)
            communicator.finishSums()
            for b in buckets { unpack(b) }
        }
        lastWait = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    private func start(_ b: Bucket) {
        var at = 0
        for t in b.tensors {
            (b.packed.data + at).update(from: t.data, count: t.count)
            at += t.count
        }
        communicator.startSum(b.packed.data, count: b.packed.count)
    }

    private func unpack(_ b: Bucket) {
        var at = 0
        for t in b.tensors {
            t.data.update(from: b.packed.data + at, count: t.count)
            at += t.count
        }
    }
}
