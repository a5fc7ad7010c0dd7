import Foundation
import Tensor

/// Named float tensors in one binary payload (little-endian):
///
///     UInt32 count, then per tensor: UInt16 name length, name (UTF-8),
///     UInt8 rank, UInt32 dims…, Float32 values…
///
/// Restoring reads into existing tensors, by name, and checks every shape.
public enum TensorArchive {
    public static func encode(_ tensors: [(name: String, tensor: Tensor)]) -> Data {
        var out = Data(capacity: size(of: tensors))
        write(tensors) { out.append(contentsOf: $0) }
        return out
    }

    /// Bytes of the archive of `tensors`.
    public static func size(of tensors: [(name: String, tensor: Tensor)]) -> Int {
        tensors.reduce(4) { $0 + 2 + $1.name.utf8.count + 1 + 4 * $1.tensor.shape.count + 4 * $1.tensor.count }
    }

    /// The archive in pieces, handed to `sink` in order: the values go
    /// straight from each tensor's memory (a saved state is never copied whole).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var header = [UInt8]()
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        put(UInt32(tensors.count))
        for (name, t) in tensors {
            let n = Array(name.utf8)
            put(UInt16(n.count))
            header.append(contentsOf: n)
            put(UInt8(t.shape.count))
            for d in t.shape { put(UInt32(d)) }
            try header.withUnsafeBytes { try sink($0) }
            header.removeAll(keepingCapacity: true)
            try sink(UnsafeRawBufferPointer(start: t.data, count: 4 * t.count))
        }
        if !header.isEmpty { try header.withUnsafeBytes { try sink($0) } }       // an empty archive: the count alone
    }

    /// Copies the archive's values into `tensors` (same names, same shapes).
    public static func restore(_ data: Data, into tensors: [(name: String, tensor: Tensor)], file: String) throws {
        try data.withUnsafeBytes { try restore($0, into: tensors, file: file) }
    }

    /// Reads in place: the saved bytes are not copied before they reach the tensors.
    static func restore(_ bytes: UnsafeRawBufferPointer, into tensors: [(name: String, tensor: Tensor)], file: String) throws {
        var i = 0
        func take(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n >= 0, n <= bytes.count - i else { throw SessionError("\(file): truncated tensor data") }
            defer { i += n }
            return UnsafeRawBufferPointer(rebasing: bytes[i ..< i + n])
        }
        func get<T: FixedWidthInteger>(_: T.Type) throws -> T {
            var v = T.zero
            let s = try take(MemoryLayout<T>.size)
            withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: s) }
            return T(littleEndian: v)
        }
        let count = Int(try get(UInt32.self))
        var byName = [String: Tensor]()
        for (name, t) in tensors { byName[name] = t }
        guard count == tensors.count else {
            throw SessionError("\(file): \(count) tensors, the model has \(tensors.count) (saved with another model?)")
        }
        for _ in 0..<count {
            let length = Int(try get(UInt16.self))
            guard let name = String(bytes: try take(length), encoding: .utf8) else { throw SessionError("\(file): damaged tensor name") }
            let rank = Int(try get(UInt8.self))
            var shape = [Int]()
            for _ in 0..<rank { shape.append(Int(try get(UInt32.self))) }
            guard let target = byName[name] else { throw SessionError("\(file): tensor '\(name)' is not part of the model") }
            guard target.shape == shape else {
                throw SessionError("\(file): tensor '\(name)' has shape \(shape), the model's is \(target.shape)")
            }
            let values = try take(target.count * 4)
            UnsafeMutableRawBufferPointer(start: target.data, count: target.count * 4).copyMemory(from: values)
            // Gate logits of fixed architectures are ±1e30: finite, like every value a session holds.
            guard Elementwise.allFinite(target.data, count: target.count) else {
                throw SessionError("\(file): tensor '\(name)' holds a value that is not a finite number")
            }
            byName[name] = nil
        }
        guard i == bytes.count else { throw SessionError("\(file): \(bytes.count - i) unexpected bytes after the tensors") }
    }
}
