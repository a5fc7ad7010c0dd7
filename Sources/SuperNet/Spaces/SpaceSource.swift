import Files
import Foundation
import Tensor

/// A search space from a file, as a fabric keeps it: the path the user gave,
/// the file's text when it was built (a session or a model file reopens from
/// it, whatever became of the file), and the parameters given on the command
/// line. `gated` false fixes every edge on (the space's baseline).
public struct SpaceSource: Codable, Equatable, Sendable {
    public var path: String
    public var text: String
    public var given: [String: Int]
    public var gated: Bool

    public init(path: String, text: String, given: [String: Int] = [:], gated: Bool = true) {
        (self.path, self.text, self.given, self.gated) = (path, text, given, gated)
    }

    /// A space file larger than this is not one (1 MiB).
    public static let maxBytes = 1 << 20

    /// Reads a space file (kept by its absolute path): a regular file of at most 1 MiB, in UTF-8.
    public static func read(_ path: String, given: [String: Int] = [:]) throws -> SpaceSource {
        let file: RegularFile
        do { file = try RegularFile(path) } catch let error as FileError {
            throw GraphError(error.kind == .missing ? "\(path): no such space file" : error.description)
        }
        guard file.size <= maxBytes else { throw GraphError("\(path): \(file.size) bytes; a space file is at most 1 MiB") }
        guard let text = String(data: try file.readAll(limit: maxBytes), encoding: .utf8) else { throw GraphError("\(path): not UTF-8 text") }
        let source = SpaceSource(path: URL(fileURLWithPath: path).standardizedFileURL.path, text: text, given: given)
        _ = try source.expansion()                      // refused now, with its line, rather than at build
        return source
    }

    public func expansion() throws(SpaceFileError) -> SpaceExpansion {
        try SpaceExpansion(SpaceFile(parsing: text, file: path), given: given)
    }

    public func plan(input: FeatureShape, classes: Int) throws(SpaceFileError) -> SpacePlan {
        try SpacePlan(expansion(), input: input, classes: classes, gated: gated)
    }

    /// The file's `space:` name, else its base name without extension.
    public var name: String {
        if let file = try? SpaceFile(parsing: text, file: path), let name = file.name { return name }
        return ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// Every parameter's value (the file's defaults, then the command line's), as "C=16 S=4 W=4".
    public var parameterSummary: String {
        let values = (try? expansion().parameters) ?? given
        return values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// Whether the file at `path` still holds the text this space was built from, as a note if it does not.
    public var fileChangeNote: String? {
        // Read as build space reads it: a FIFO or a device put at the path is not opened, so reopening never blocks.
        let data: Data
        do { data = try RegularFile.read(path, limit: Self.maxBytes) } catch {
            let gone = (error as? FileError)?.kind == .missing
            return "note: space file \(gone ? "\(path) is gone" : "\(error)"); the session uses the copy saved with it"
        }
        guard String(data: data, encoding: .utf8) != text else { return nil }
        return "note: space file \(path) has changed since this network was built; the session uses the copy saved with it (build space \(path) again for the new one)"
    }
}
