import Dispatch
import Foundation
import Tensor

/// Where a loader is: everything needed to continue with the same batches.
/// Epoch e's order and batch b's augmentation are drawn from generators
/// seeded by (seed, e) and (seed, e, b), so the position alone fixes what
/// comes next, with or without prefetching.
public struct LoaderState: Codable, Equatable, Sendable {
    public var seed: UInt64
    /// The epoch and the batch within it that `nextBatch` returns next.
    public var epoch: Int, batch: Int

    public init(seed: UInt64, epoch: Int = 0, batch: Int = 0) {
        self.seed = seed
        self.epoch = epoch
        self.batch = batch
    }
}

/// Training batches of an image set: shuffled every epoch, augmented,
/// converted to floats per batch. With `prefetch`, the next batch is made on
/// a background thread while the caller trains on the current one.
///
/// A returned batch's tensor and labels stay valid until the next call to
/// `nextBatch` returns (three buffers rotate). The last partial batch of an
/// epoch is dropped; a set smaller than the batch size gives batches of the
/// whole set.
public final class Loader: BatchSource, @unchecked Sendable {
    public let examples: ImageSet
    public let augmentation: Augmentation
    public let batchSize: Int
    public let prefetch: Bool
    public private(set) var state: LoaderState

    /// Buffers of one batch, reused (nothing is allocated per batch).
    private final class Slot: @unchecked Sendable {
        let images = Tensor(shape: [0])
        var labels = [Int32]()
    }
    private let slots = [Slot(), Slot(), Slot()]
    private var produced = 0                 // batches made so far: slot = produced % 3
    private var pending: (key: LoaderState, slot: Slot, done: DispatchSemaphore)?
    private let queue = DispatchQueue(label: "bsn.loader", qos: .userInitiated)
    private var order = [Int](), orderEpoch = -1

    public init(_ examples: ImageSet, augmentation: Augmentation, batchSize: Int, seed: UInt64, prefetch: Bool = true) {
        precondition(examples.count > 0 && batchSize > 0, "a loader needs images and a positive batch size")
        self.examples = examples
        self.augmentation = augmentation
        self.batchSize = min(batchSize, examples.count)
        self.prefetch = prefetch
        state = LoaderState(seed: seed, epoch: 0, batch: 0)
    }

    deinit { pending?.done.wait() }

    public var batchesPerEpoch: Int { examples.count / batchSize }

    /// The input shape of a batch: (N, H, W, C).
    public var batchShape: [Int] { [batchSize, augmentation.height, augmentation.width, examples.channels] }

    public func nextBatch() throws -> (images: Tensor, labels: [Int32]) {
        let key = state
        let slot: Slot
        if let p = pending, p.key == key {
            p.done.wait()
            slot = p.slot
            pending = nil
        } else {
            settle()
            slot = nextSlot()
            make(key, into: slot)
        }
        state = advanced(key)
        if prefetch { startPrefetch(state) }
        return (slot.images, slot.labels)
    }

    /// Continues from `state` (a saved position): the same batches follow as
    /// after the save.
    public func restore(_ state: LoaderState) {
        settle()
        self.state = state
    }

    // MARK: making batches

    private func advanced(_ s: LoaderState) -> LoaderState {
        var s = s
        s.batch += 1
        if s.batch >= batchesPerEpoch { s.epoch += 1; s.batch = 0 }
        return s
    }

    private func nextSlot() -> Slot {
        defer { produced += 1 }
        return slots[produced % slots.count]
    }

    private func startPrefetch(_ key: LoaderState) {
        let slot = nextSlot(), done = DispatchSemaphore(value: 0)
        pending = (key, slot, done)
        queue.async { [self] in
            make(key, into: slot)
            done.signal()
        }
    }

    /// Waits for a batch in the making and forgets it.
    private func settle() {
        pending?.done.wait()
        pending = nil
    }

    /// Batch `key.batch` of epoch `key.epoch`: its examples in the epoch's
    /// order, each placed at random. Runs on one thread at a time.
    private func make(_ key: LoaderState, into slot: Slot) {
        if orderEpoch != key.epoch {
            order = Loader.permutation(examples.count, seed: Loader.mix(key.seed, UInt64(key.epoch), 0x5EED))
            orderEpoch = key.epoch
        }
        var rng = RNG(seed: Loader.mix(key.seed, UInt64(key.epoch), UInt64(key.batch) + 1))
        let h = augmentation.height, w = augmentation.width, c = examples.channels
        slot.images.reshape([batchSize, h, w, c])
        let labelCount = examples.isSegmentation ? batchSize * h * w : batchSize
        if slot.labels.count != labelCount { slot.labels = [Int32](repeating: 0, count: labelCount) }
        let first = key.batch * batchSize
        slot.labels.withUnsafeMutableBufferPointer { labels in
            for e in 0..<batchSize {
                let index = order[first + e]
                let placement = augmentation.draw(&rng)
                augmentation.place(examples, index, placement, image: slot.images.data + e * h * w * c,
                                   labels: examples.isSegmentation ? labels.baseAddress! + e * h * w : nil)
                if !examples.isSegmentation { labels[e] = examples.labels[index] }
            }
        }
    }

    /// A uniformly random order of 0..<n (Fisher–Yates with our RNG, so it is
    /// the same on every platform and Swift version).
    public static func permutation(_ n: Int, seed: UInt64) -> [Int] {
        var rng = RNG(seed: seed), order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, rng.integer(below: i + 1)) }
        return order
    }

    static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var x = a &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ b) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 31) ^ c) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 29)
    }
}

/// The batches of a split in order, centred and unmirrored (evaluation). The
/// last batch may be smaller. Each batch's tensor is reused by the next.
public struct EvaluationBatches: Sequence {
    public let examples: ImageSet, augmentation: Augmentation, batchSize: Int

    public init(_ examples: ImageSet, augmentation: Augmentation, batchSize: Int) {
        self.examples = examples
        self.augmentation = augmentation
        self.batchSize = Swift.max(1, batchSize)
    }

    public var count: Int { (examples.count + batchSize - 1) / batchSize }

    public func makeIterator() -> AnyIterator<(images: Tensor, labels: [Int32])> {
        var first = 0
        let batch = Tensor(shape: [0])
        let h = augmentation.height, w = augmentation.width, c = examples.channels
        return AnyIterator {
            guard first < examples.count else { return nil }
            let n = Swift.min(batchSize, examples.count - first)
            batch.reshape([n, h, w, c])
            var labels = [Int32](repeating: 0, count: examples.isSegmentation ? n * h * w : n)
            labels.withUnsafeMutableBufferPointer { out in
                for e in 0..<n {
                    augmentation.place(examples, first + e, augmentation.centred, image: batch.data + e * h * w * c,
                                       labels: examples.isSegmentation ? out.baseAddress! + e * h * w : nil)
                    if !examples.isSegmentation { out[e] = examples.labels[first + e] }
                }
            }
            first += n
            return (batch, labels)
        }
    }
}
