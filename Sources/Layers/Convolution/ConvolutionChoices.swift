import Files
import Foundation
import Tensor

/// The convolution algorithm of each shape and pass, chosen by measurement.
///
/// The first time a shape is used (kernel, stride, padding, channels in and
/// out, input size, threads), each registered algorithm that can run a pass
/// is timed briefly on a scratch layer (best of five rounds) and the fastest
/// is kept for that pass: in memory, and in a cache file keyed by the CPU and
/// the bsn version (`$BSN_CACHE/conv-choices.json`, by default
/// `~/.cache/bsn/`), so later runs start at full speed. A session records
/// the choices it used and pins them when it is opened again, so a resumed
/// run computes with the same algorithms, bit for bit. A choice recorded
/// for a shape without a pass (by earlier versions) pins all three passes.
/// `BSN_CONV_ALGORITHM=<name>` forces one algorithm wherever it applies.
///
/// Each execution context has its own (its pins are its session's); they
/// share the cache file, merged on every write.
public final class ConvolutionChoices: @unchecked Sendable {
    /// The algorithm `BSN_CONV_ALGORITHM` names, if any (gemm when this CPU cannot run it).
    public static let forcedByEnvironment: (any ConvolutionAlgorithm)? = {
        guard let name = ProcessInfo.processInfo.environment["BSN_CONV_ALGORITHM"],
              let forced = ConvolutionAlgorithms.named(name) else { return nil }
        return forced.isAvailable ? forced : ConvolutionAlgorithms.gemm
    }()

    /// The algorithms the measurements chose among, each with its own
    /// version: a cache measured among others (an algorithm added, or one
    /// whose version was bumped because its arithmetic or speed changed) is
    /// not trusted, and every shape is measured again.
    public static var version: String {
        "conv choices among " + ConvolutionAlgorithms.all.map { "\($0.name) \($0.version)" }.joined(separator: ", ")
    }

    public static var cacheFile: URL {
        let env = ProcessInfo.processInfo.environment
        let folder = env["BSN_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0).appendingPathComponent("bsn") }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/bsn")
        return folder.appendingPathComponent("conv-choices.json")
    }

    /// This CPU, as the cache is keyed: the model name with family, model and stepping.
    public static let cpu: String = {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ name: String) -> String {
            info.split(separator: "\n").first { $0.hasPrefix(name) }?.split(separator: ":", maxSplits: 1).last
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? "?"
        }
        return "\(field("model name")) (family \(field("cpu family")), model \(field("model")), stepping \(field("stepping")))"
    }()

    private struct CacheFile: Codable {
        var format = "bsn-conv-choices"
        var version: String
        var cpu: String
        var choices: [String: String]
    }

    /// A choice's key: the layer's shape ("k3 s1 p1 16>32 32x32"), the threads it runs on and the pass.
    /// Choices recorded by earlier versions may lack the pass (they pin all three).
    struct Entry: Hashable {
        var shape: String, threads: Int?, pass: ConvolutionPass?

        /// As files write it: "k3 s1 p1 16>32 32x32 t2 forward".
        var text: String { ([shape] + [threads.map { "t\($0)" }, pass?.rawValue].compactMap { $0 }).joined(separator: " ") }

        init(shape: String, threads: Int?, pass: ConvolutionPass?) { (self.shape, self.threads, self.pass) = (shape, threads, pass) }

        /// A key as a cache file or a session wrote it (read once, when the file is).
        init(parsing text: String) {
            var words = text.split(separator: " ").map(String.init)
            pass = words.last.flatMap(ConvolutionPass.init(rawValue:))
            if pass != nil { words.removeLast() }
            threads = words.last.flatMap { $0.first == "t" ? Int($0.dropFirst()) : nil }
            if threads != nil { words.removeLast() }
            shape = words.joined(separator: " ")
        }
    }

    public let file: URL
    /// The algorithm used wherever it applies instead of the measured choice (nil: measure).
    public let forced: (any ConvolutionAlgorithm)?
    private let lock = NSLock()
    private var measured: [Entry: String] = [:]
    /// The session's choices, as recorded (with the pass, or without it: all passes).
    private var pinned: [Entry: String] = [:]
    /// The same by shape and pass at any thread count: a session's choice holds at any thread count.
    private var pinnedAtAnyThreads: [Entry: String] = [:]
    /// The shapes and passes this context asked for.
    private var usedKeys: Set<Entry> = []
    private var loaded = false
    /// Said once on stderr: a cache that could not be used.
    private var warned = false

    public init(file: URL = ConvolutionChoices.cacheFile, forced: (any ConvolutionAlgorithm)? = ConvolutionChoices.forcedByEnvironment) {
        self.file = file
        self.forced = forced
    }

    /// The algorithm for `pass` of the shape `shape` (a layer's shape key,
    /// "k3 s1 p1 16>32 32x32") on `threads` threads: pinned by the session,
    /// else cached, else measured now by `measure` (seconds per candidate) and cached.
    public func algorithm(for shape: String, threads: Int, _ pass: ConvolutionPass,
                          measure: () -> [(any ConvolutionAlgorithm, Double)]) -> any ConvolutionAlgorithm {
        let key = Entry(shape: shape, threads: threads, pass: pass)
        lock.lock()
        loadIfNeeded()
        usedKeys.insert(key)
        if let name = chosen(key), let a = ConvolutionAlgorithms.named(name), a.isAvailable { lock.unlock(); return a }
        lock.unlock()
        let times = measure()
        let best = times.min { $0.1 < $1.1 }?.0 ?? ConvolutionAlgorithms.gemm
        lock.lock()
        measured[key] = best.name
        save()
        lock.unlock()
        return best
    }

    /// A session's own choice first, then its choice for this shape at another thread count (a sweep's
    /// child runs on fewer threads than its parent: it computes as the parent chose, whatever this
    /// process would measure), then this CPU's cache (lock held). With `runnable`, only one this CPU runs.
    private func chosen(_ key: Entry, runnable: Bool = true) -> String? {
        [pinned[key], pinned[Entry(shape: key.shape, threads: key.threads, pass: nil)],
         pinnedAtAnyThreads[Entry(shape: key.shape, threads: nil, pass: key.pass)], measured[key]].compactMap { $0 }
            .first { !runnable || ConvolutionAlgorithms.named($0)?.isAvailable == true }
    }

    /// The choices this context used (pinned, cached or measured), for a session to record
    /// (a pin this CPU cannot run is kept, for the machines that can).
    public var used: [String: String] {
        lock.withLock { Dictionary(uniqueKeysWithValues: usedKeys.compactMap { key in chosen(key, runnable: false).map { (key.text, $0) } }) }
    }

    /// Makes these choices (recorded by a session) win over the cache and new measurements.
    public func pin(_ choices: [String: String]) {
        lock.withLock {
            for (k, v) in choices.sorted(by: { $0.key < $1.key }) where ConvolutionAlgorithms.named(v) != nil {
                let key = Entry(parsing: k)
                pinned[key] = v
                pinnedAtAnyThreads[Entry(shape: key.shape, threads: nil, pass: key.pass)] = v
            }
        }
    }

    /// What `bsn info` says about the cache.
    public var summary: String {
        lock.withLock {
            loadIfNeeded()
            let counts = Dictionary(grouping: measured.values, by: { $0 }).mapValues(\.count).sorted { $0.key < $1.key }
            return "\(file.path): \(measured.count) shape passes measured on this CPU"
                + (counts.isEmpty ? "" : " (" + counts.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        }
    }

    // MARK: the file (lock held)

    private func loadIfNeeded() {
        guard !loaded else { return }
        loaded = true
        guard let data = try? RegularFile.read(file.path, limit: 64 << 20) else { return }
        guard let cache = try? JSONDecoder().decode(CacheFile.self, from: data), cache.format == "bsn-conv-choices" else {
            return warn("\(file.path) is not a bsn convolution cache (damaged?); it is measured again and rewritten")
        }
        guard cache.cpu == Self.cpu, cache.version == Self.version else {
            return warn("\(file.path) was measured on another CPU or bsn version (\(cache.cpu), \(cache.version)); it is measured again and rewritten")
        }
        measured = Dictionary(cache.choices.map { (Entry(parsing: $0.key), $0.value) }) { first, _ in first }
    }

    private func warn(_ message: String) {
        guard !warned else { return }
        warned = true
        try? FileHandle.standardError.write(contentsOf: Data(("bsn: warning: " + message + "\n").utf8))
    }

    /// Writes the cache atomically (AtomicFile: a temporary file, then a rename), merged
    /// with what another process may have written since. A cache that cannot
    /// be written is not an error: the choices stay in memory.
    private func save() {
        var choices = Dictionary(uniqueKeysWithValues: measured.map { ($0.key.text, $0.value) })
        if let data = try? RegularFile.read(file.path, limit: 64 << 20),
           let other = try? JSONDecoder().decode(CacheFile.self, from: data), other.cpu == Self.cpu, other.version == Self.version {
            choices.merge(other.choices) { mine, _ in mine }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(CacheFile(version: Self.version, cpu: Self.cpu, choices: choices)) else { return }
        let folder = file.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = try? AtomicFile.write(data, to: file.path)
    }
}
