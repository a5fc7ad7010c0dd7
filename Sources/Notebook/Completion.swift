import Foundation

/// Tab completion, one for readline (`REPL`) and the Jupyter kernel
/// (`KernelServer`): command names first, then the command's words, saved
/// sessions after `open`, and paths.
public enum Completion {
    public enum Candidates: Equatable {
        case words([String])
        /// The word looks like a path, or the command has no word that fits: complete file paths.
        case paths
    }

    /// What completes `prefix`, the word being typed, when `before` is the
    /// line up to it. `sessions` lists the saved sessions (`open` completes them).
    public static func candidates(prefix: String, before: String, sessions: () -> [String]) -> Candidates {
        let words = before.split(separator: " ")
        guard let first = words.first else {
            return .words((Registry.names + Array(Registry.aliases.keys)).filter { $0.hasPrefix(prefix) }.sorted())
        }
        guard let command = Registry.find(String(first)) else { return .words([]) }
        if words.count == 1, command.name == "open" { return .words(sessions().filter { $0.hasPrefix(prefix) }.sorted()) }
        let looksLikePath = prefix.contains("/") || prefix.hasPrefix(".") || prefix.hasPrefix("~")
        let fitting = looksLikePath ? [] : command.words.filter { $0.hasPrefix(prefix) }
        return fitting.isEmpty ? .paths : .words(fitting)
    }

    /// The paths that complete `prefix` (a folder's name ends with /), sorted;
    /// hidden files only when the prefix's last part starts with a dot.
    public static func paths(_ prefix: String) -> [String] {
        let expanded = (prefix as NSString).expandingTildeInPath
        let slash = expanded.lastIndex(of: "/")
        let folder = slash.map { String(expanded[...$0]) } ?? ""
        let start = slash.map { String(expanded[expanded.index(after: $0)...]) } ?? expanded
        let shownFolder = prefix.lastIndex(of: "/").map { String(prefix[...$0]) } ?? ""
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder) else { return [] }
        return names.filter { $0.hasPrefix(start) && (start.hasPrefix(".") || !$0.hasPrefix(".")) }.sorted().prefix(200).map { name in
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder + name, isDirectory: &isFolder)
            return shownFolder + name + (isFolder.boolValue ? "/" : "")
        }
    }

    /// The completions of the word ending at `cursor` (a character offset) in
    /// `line`: where that word starts, and its replacements.
    public static func complete(_ line: String, cursor: Int, sessions: () -> [String]) -> (start: Int, matches: [String]) {
        let upTo = String(line.prefix(max(0, cursor)))
        let start = upTo.lastIndex(where: { $0 == " " || $0 == "\t" }).map { upTo.distance(from: upTo.startIndex, to: $0) + 1 } ?? 0
        let prefix = String(upTo.dropFirst(start)), before = String(upTo.prefix(start))
        switch candidates(prefix: prefix, before: before, sessions: sessions) {
        case .words(let words): return (start, words)
        case .paths: return (start, paths(prefix))
        }
    }

    /// The command a line starts with, for its help (`inspect_request`).
    public static func command(in line: String) -> (any Command)? {
        line.split(whereSeparator: \.isWhitespace).first.flatMap { Registry.find(String($0)) }
    }
}
