import Synchronization

/// A dense Float32 array with a shape, stored contiguously in the order of its
/// dimensions (row-major). Image tensors are NHWC ("channels last")
/// throughout; each function's comment names the layout it expects, e.g.
/// `x is (N, H, W, C)` (ONNX export writes NCHW, converting at its boundary).
///
/// A tensor is a reference type that owns a buffer of some capacity:
/// `reshape` reuses the buffer when it is large enough, so a layer that keeps
/// its output tensor allocates only on its first call (or when a batch grows).
/// Every buffer allocation is counted in `Tensor.allocations`.
public final class Tensor: @unchecked Sendable {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// Number of elements (the product of `shape`).
    public private(set) var count: Int
    /// Number of elements the buffer can hold without reallocating.
    public private(set) var capacity: Int
    /// The elements; valid for `count` elements, 64-byte aligned.
    public private(set) var data: UnsafeMutablePointer<Float>

    /// How many element buffers have been allocated in this process. Tests use
    /// it to check that a training step allocates nothing after the first.
    public static var allocations: Int { allocationCounter.load(ordering: .relaxed) }
    private static let allocationCounter = Atomic<Int>(0)

    /// A zero-filled tensor of this shape.
    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.capacity = max(count, 1)
        self.data = Tensor.allocate(capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    /// A tensor holding these values, with this shape.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { data.deallocate() }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        allocationCounter.add(1, ordering: .relaxed)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: count)
    }

    /// Gives the tensor a new shape, growing the buffer only when it is too small.
    /// The contents are unspecified after a change of size (zero after growth).
    public func reshape(_ newShape: [Int]) {
        precondition(newShape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(newShape)")
        let newCount = newShape.reduce(1, *)
        if newCount > capacity {
            data.deallocate()
            capacity = newCount
            data = Tensor.allocate(capacity)
            data.initialize(repeating: 0, count: capacity)
        }
        shape = newShape
        count = newCount
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Copies `other`'s shape and elements into this tensor.
    public func copy(from other: Tensor) {
        reshape(other.shape)
        data.update(from: other.data, count: count)
    }

    /// A new tensor with the same shape and elements.
    public func clone() -> Tensor {
        let copy = Tensor(shape: shape)
        copy.data.update(from: data, count: count)
        return copy
    }

    /// The elements as an array (for tests and small reports).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }

    /// Dimension `i`, counting from the end when negative (`dim(-1)` is the last).
    public func dim(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }

    public var rank: Int { shape.count }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = values.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape.map(String.init).joined(separator: "x")): [\(shown)\(count > 8 ? ", …" : "")])"
    }
}
