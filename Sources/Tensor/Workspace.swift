import Synchronization

/// Scratch buffers shared by the layers of one execution context, one set per
/// worker thread. Layers run one after another, so a single arena serves the
/// whole network: it grows to the largest request and is then reused, keeping
/// a training step free of allocations after the first.
///
/// A buffer is named by (worker, slot); a layer uses distinct slots for
/// buffers it needs at the same time. Slots are declared by their owners
/// (`WorkspaceSlot(BatchNorm2d.self, 0)`): one type's slots never meet another's.
public final class Workspace: @unchecked Sendable {
    public init() {}

    private let lock = Mutex<Void>(())
    private var buffers: [[WorkspaceSlot: Tensor]] = []

    /// Floats held in all buffers (what the convolution algorithms' stated workspace is checked against).
    public var floats: Int {
        lock.withLock { _ in buffers.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } } }
    }

    /// A buffer of at least `count` elements for this worker and slot. Its
    /// contents are left over from the previous user.
    public func buffer(worker: Int, slot: WorkspaceSlot, count: Int) -> UnsafeMutablePointer<Float> {
        lock.withLock { _ in
            while buffers.count <= worker { buffers.append([:]) }
            if let tensor = buffers[worker][slot] {
                if tensor.count < count { tensor.reshape([count]) }
                return tensor.data
            }
            let tensor = Tensor(shape: [count])
            buffers[worker][slot] = tensor
            return tensor.data
        }
    }
}

/// A workspace buffer's name: its owner (a type) and a number of the owner's.
public struct WorkspaceSlot: Hashable, Sendable {
    let owner: ObjectIdentifier, index: Int

    /// Slot `index` of the buffers `owner` uses.
    public init<Owner>(_ owner: Owner.Type, _ index: Int) { (self.owner, self.index) = (ObjectIdentifier(owner), index) }
}
