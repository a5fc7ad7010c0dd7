import Foundation
import SwiftProtobuf
import TensorBoardProto

/// TensorBoard's event-file framing (TFRecord): each record is
///
///     uint64 length            little-endian
///     uint32 masked CRC-32C    of the 8 length bytes
///     length bytes             a serialized `Event`
///     uint32 masked CRC-32C    of those bytes
///
/// where masking is `((crc >> 15) | (crc << 17)) &+ 0xa282ead8`, so that
/// a CRC of data that holds CRCs is not itself a plain CRC.
public enum EventRecords {
    /// The records of `events`, one after another.
    public static func encode(_ events: [Tensorboard_Event]) throws -> Data {
        var out = Data()
        for event in events {
            let body: Data = try event.serializedBytes()
            var length = UInt64(body.count).littleEndian
            let lengthBytes = withUnsafeBytes(of: &length) { Data($0) }
            out.append(lengthBytes)
            append(maskedCRC(lengthBytes), to: &out)
            out.append(body)
            append(maskedCRC(body), to: &out)
        }
        return out
    }

    /// The events of a file's records; throws on a bad length or checksum (for the tests and `bsn fuzz`).
    public static func decode(_ data: Data) throws -> [Tensorboard_Event] {
        var events = [Tensorboard_Event](), at = data.startIndex
        func take(_ n: Int) throws -> Data {
            guard n >= 0, data.endIndex - at >= n else { throw EventFileError("a record runs past the end of the file") }
            defer { at += n }
            return data[at..<at + n]
        }
        func word(_ bytes: Data) -> UInt32 { bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        while at < data.endIndex {
            let lengthBytes = try take(8)
            guard word(try take(4)) == maskedCRC(lengthBytes) else { throw EventFileError("a record's length fails its checksum") }
            let length = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard length <= UInt64(data.count) else { throw EventFileError("a record's length (\(length)) is larger than the file") }
            let body = try take(Int(length))
            guard word(try take(4)) == maskedCRC(body) else { throw EventFileError("a record fails its checksum") }
            events.append(try Tensorboard_Event(serializedBytes: body))
        }
        return events
    }

    private static func append(_ value: UInt32, to data: inout Data) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { data.append(contentsOf: $0) }
    }

    static func maskedCRC(_ bytes: Data) -> UInt32 {
        let crc = CRC32C.checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
    }
}

public struct EventFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
/// TFRecord files: a byte at a time through a 256-entry table.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
