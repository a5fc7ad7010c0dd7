import Foundation

/// What a command returns: a value the notebook prints either as text or,
/// with `--json`, as exactly one JSON object. Commands never print; the
/// notebook alone decides which form to show.
public protocol Output: Encodable {
    /// The text shown in the notebook (may span lines; empty prints nothing).
    var text: String { get }
}

extension Output {
    /// The value as one JSON object: sorted keys, inf and NaN as strings.
    public var json: String { JSONLine.encode(self) }
}

/// What bsn prints as JSON: one line, sorted keys, inf and NaN as strings.
public enum JSONLine {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch {
            return #"{"error":"cannot encode the output as JSON"}"#
        }
    }
}

/// What a shell command (bsn run, bsn bench …) cannot do, said on stderr
/// with exit status 2: a script that cannot be read, a session that cannot
/// be opened, a benchmark row that failed.
public struct ShellFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An output that is a sentence ("saved session 'x'"): JSON `{"message": …}`.
public struct Message: Output, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var text: String { message }
}

/// An error after which there is still something to show (training that
/// diverged reports the steps it did): the notebook prints `output`, then the error.
public protocol FailureWithOutput: Error {
    var output: any Output { get }
}

/// An output that wrote a picture: the notebook may show it under the cell.
public protocol ShowsPicture {
    /// The PNG file written.
    var picture: String { get }
}
