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
        var out = Data()
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt32(tensors.count))
        for (name, t) in tensors {
            let n = Array(name.utf8)
            put(UInt16(n.count))
            out.append(contentsOf: n)
            put(UInt8(t.shape.count))
            for d in t.shape { put(UInt32(d)) }
            out.append(UnsafeBufferPointer(start: t.data, count: t.count))
        }
        return out
    }

    /// Copies the archive's values into `tensors` (same names, same shapes).
    public static func restore(_ data: Data, into tensors: [(name: String, tensor: Tensor)], file: String) throws {
        let bytes = [UInt8](data)
        var i = 0
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard i + n <= bytes.count else { throw SessionError("\(file): truncated tensor data") }
            defer { i += n }
            return bytes[i ..< i + n]
        }
        func get<T: FixedWidthInteger>(_: T.Type) throws -> T {
            var v = T.zero
            let s = try take(MemoryLayout<T>.size)
            withUnsafeMutableBytes(of: &v) { $0.copyBytes(from: s) }
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
            values.withUnsafeBytes { raw in
                let out = UnsafeMutableRawBufferPointer(start: target.data, count: target.count * 4)
                out.copyMemory(from: raw)
            }
            // Gate logits of fixed architectures are ±1e30: finite, like every value a session holds.
            guard (0..<target.count).allSatisfy({ target.data[$0].isFinite }) else {
                throw SessionError("\(file): tensor '\(name)' holds a value that is not a finite number")
            }
            byName[name] = nil
        }
        guard i == bytes.count else { throw SessionError("\(file): \(bytes.count - i) unexpected bytes after the tensors") }
    }
}
