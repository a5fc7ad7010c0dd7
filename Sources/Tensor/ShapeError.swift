/// A tensor of the wrong shape reached an operation. The message names the
/// operation, what it expected and what it got.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Throws unless `tensor` has rank `rank`.
    public static func check(_ tensor: Tensor, rank: Int, _ operation: String, layout: String) throws {
        guard tensor.rank == rank else {
            throw ShapeError("\(operation): expected a rank-\(rank) tensor \(layout), got shape \(tensor.shape)")
        }
    }

    /// Throws unless dimension `axis` of `tensor` is `size`.
    public static func check(_ tensor: Tensor, axis: Int, is size: Int, _ operation: String, what: String) throws {
        guard tensor.dim(axis) == size else {
            throw ShapeError("\(operation): expected \(size) \(what), got \(tensor.dim(axis)) (shape \(tensor.shape))")
        }
    }

    /// Throws unless the two tensors have the same shape.
    public static func check(_ a: Tensor, sameShapeAs b: Tensor, _ operation: String) throws {
        guard a.shape == b.shape else {
            throw ShapeError("\(operation): shapes differ, \(a.shape) and \(b.shape)")
        }
    }
}
