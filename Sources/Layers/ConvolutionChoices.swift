import Files
import Foundation
import Tensor

/// The convolution algorithm of each shape, chosen by measurement.
///
/// The first time a shape is used (kernel, stride, padding, channels in and
/// out, input size, images per pass, threads), each algorithm that can run it
/// is timed briefly on a scratch layer (forward + backward, best of three)
/// and the fastest is kept: in memory, and in a cache file keyed by the CPU
/// and the bsn version (`$BSN_CACHE/conv-choices.json`, by default
/// `~/.cache/bsn/`), so later runs start at full speed. A session records
/// the choices it used and pins them when it is opened again, so a resumed
/// run computes with the same algorithms, bit for bit.
/// `BSN_CONV_ALGORITHM=gemm|direct` forces one algorithm everywhere.
public final class ConvolutionChoices: @unchecked Sendable {
    public static let shared = ConvolutionChoices(file: cacheFile)

    /// The algorithm `BSN_CONV_ALGORITHM` forces, if any (direct only where the CPU has its kernels).
    public static let forced: ConvolutionAlgorithm? = {
        guard let forced = ProcessInfo.processInfo.environment["BSN_CONV_ALGORITHM"].flatMap(ConvolutionAlgorithm.init) else { return nil }
        return forced.isAvailable ? forced : .gemm
    }()

    /// Bumped when the algorithms change, so old measurements are not trusted.
    public static let version = "bsn 0.1, conv choices 2"

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
        var choices: [String: ConvolutionAlgorithm]
    }

    public let file: URL
    private let lock = NSLock()
    private var measured: [String: ConvolutionAlgorithm] = [:]
    private var pinned: [String: ConvolutionAlgorithm] = [:]
    private var usedKeys = Set<String>()
    private var loaded = false
    /// Said once on stderr: a cache that could not be used.
    private var warned = false

    public init(file: URL) { self.file = file }

    /// The algorithm for the shape `key`: pinned by the session, else cached,
    /// else measured now by `measure` (seconds per candidate) and cached.
    public func algorithm(for key: String, measure: () -> [(ConvolutionAlgorithm, Double)]) -> ConvolutionAlgorithm {
        lock.lock()
        loadIfNeeded()
        usedKeys.insert(key)
        if let a = pinned[key] ?? measured[key], a.isAvailable { lock.unlock(); return a }
        lock.unlock()
        let times = measure()
        let best = times.min { $0.1 < $1.1 }?.0 ?? .gemm
        lock.lock()
        measured[key] = best
        save()
        lock.unlock()
        return best
    }

    /// The choices this process used (pinned, cached or measured), for a session to record.
    public var used: [String: String] {
        lock.withLock {
            Dictionary(uniqueKeysWithValues: usedKeys.compactMap { k in (pinned[k] ?? measured[k]).map { (k, $0.rawValue) } })
        }
    }

    /// Makes these choices (recorded by a session) win over the cache and new measurements.
    public func pin(_ choices: [String: String]) {
        lock.withLock {
            for (k, v) in choices { if let a = ConvolutionAlgorithm(rawValue: v) { pinned[k] = a } }
        }
    }

    /// What `bsn info` says about the cache.
    public var summary: String {
        lock.withLock {
            loadIfNeeded()
            let counts = Dictionary(grouping: measured.values, by: \.rawValue).mapValues(\.count).sorted { $0.key < $1.key }
            return "\(file.path): \(measured.count) shapes measured on this CPU"
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
        measured = cache.choices
    }

    private func warn(_ message: String) {
        guard !warned else { return }
        warned = true
        FileHandle.standardError.write(Data(("bsn: warning: " + message + "\n").utf8))
    }

    /// Writes the cache atomically (AtomicFile: a temporary file, then a rename), merged
    /// with what another process may have written since. A cache that cannot
    /// be written is not an error: the choices stay in memory.
    private func save() {
        var choices = measured
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
