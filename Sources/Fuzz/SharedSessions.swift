import Foundation
import Tensor

/// The concurrency recipe: several bsn processes on one sessions folder at
/// once, in random roles: writers that open, train and save a session,
/// openers that only read it, two processes saving different sessions under
/// one name, listers, and (in some rounds) a sweep whose child is opened
/// while its worker trains and saves it. Afterwards every session must open,
/// hold one generation and no temporary file; no opener may have removed a
/// writer's files; and every process must have ended 0, or 1 only with a
/// lock held by another process as its error.
struct SharedSessions {
    enum Role: String, CaseIterable { case writer, opener, sameName, lister }

    var rng: RNG
    let template: URL
    let binary: String
    let memoryKB: Int

    static let scripts = [
        "writer.bsn": "open base\ntrain 1 steps\nsave\n",
        "opener.bsn": "open base\ninspect\nquit --no-save\n",
        "same-a.bsn": "open base\nsave shared\n",
        "same-b.bsn": "load shapes train=64 val=16 test=16 seed=3\nbuild cnf W=1 S=3 C=8\nsave shared\n",
        "lister.bsn": "sessions --json\n",
        "sweep.bsn": "load shapes train=128 val=32 test=32\nset batch 16\nbuild cnf W=2 S=3 C=4\nwarmup 2 steps\nsweep budget flops 300k lambda=1e-6 epochs=6 --workers=1\n",
        "child.bsn": "open sweep.flops-300k.lambda-1e-06.abs\ninspect\nquit --no-save\n",
    ]

    /// One round in `dir`; returns the problems found.
    mutating func round(in dir: URL) throws -> [String] {
        let fm = FileManager.default
        let sessions = dir.appendingPathComponent("sessions")
        try fm.createDirectory(at: sessions, withIntermediateDirectories: true)
        try fm.copyItem(at: template.appendingPathComponent("sessions/base"), to: sessions.appendingPathComponent("base"))
        for (name, text) in Self.scripts { try text.write(to: dir.appendingPathComponent(name), atomically: false, encoding: .utf8) }

        var runs = [String]()
        let withSweep = rng.uniform() < 0.2
        for _ in 0..<(3 + rng.integer(below: 4)) {
            switch Role.allCases[rng.integer(below: Role.allCases.count)] {
            case .writer: runs.append("writer.bsn")
            case .opener: runs.append("opener.bsn")
            case .sameName: runs += ["same-a.bsn", "same-b.bsn"]
            case .lister: runs.append("lister.bsn")
            }
        }
        if withSweep { runs.append("sweep.bsn") }
        // Started together (a random stagger of up to 0.3 s); sweep rounds then open the child while it trains.
        let delays = runs.map { _ in Double(rng.uniform()) * 0.3 }
        let (binary, memoryKB, started) = (self.binary, self.memoryKB, runs.count)
        let results = UncheckedResults(count: runs.count + (withSweep ? 6 : 0))
        let group = DispatchGroup()
        for (k, script) in runs.enumerated() {
            let script = script
            DispatchQueue.global().async(group: group) {
                Thread.sleep(forTimeInterval: delays[k])
                results.set(k, script, Self.run(script, in: dir, as: k, binary: binary, memoryKB: memoryKB))
            }
        }
        if withSweep {
            for k in 0..<6 {
                DispatchQueue.global().async(group: group) {
                    Thread.sleep(forTimeInterval: 1.5 + Double(k) * 0.7)
                    results.set(started + k, "child.bsn", Self.run("child.bsn", in: dir, as: started + k, binary: binary, memoryKB: memoryKB))
                }
            }
        }
        group.wait()

        var problems = [String]()
        for (k, entry) in results.values.enumerated() {
            guard let (script, outcome) = entry else { continue }
            let err = (try? String(contentsOf: dir.appendingPathComponent("stderr-\(k).txt"), encoding: .utf8)) ?? ""
            let out = (try? String(contentsOf: dir.appendingPathComponent("stdout-\(k).txt"), encoding: .utf8)) ?? ""
            let childMissing = script == "child.bsn" && err.contains("no session 'sweep.")
            switch outcome {
            case .exited(0): break
            // Refused, not lost: the holder was named, or the session had been saved by another process meanwhile.
            case .exited(1) where err.contains("is in use by") || err.contains("another process saved it since") || childMissing: break
            default: problems.append("\(script) (run \(k)): \(outcome); \(err.split(separator: "\n").last { $0.contains("rror") } ?? "")")
            }
            if (script == "opener.bsn" || script == "child.bsn" || script == "lister.bsn") && out.contains("removed stale files") {
                problems.append("\(script) (run \(k)) removed files of a session another process was saving: \(out.prefix(300))")
            }
        }
        // Every session left opens, with one generation and no temporary file.
        for name in ((try? fm.contentsOfDirectory(atPath: sessions.path)) ?? []).sorted() where !name.hasPrefix(".") {
            let files = (try? fm.contentsOfDirectory(atPath: sessions.appendingPathComponent(name).path)) ?? []
            guard files.contains("session.json") else { problems.append("\(name): a folder without a manifest: \(files.sorted())"); continue }
            if files.contains(where: { $0.contains(".tmp-") }) { problems.append("\(name): temporary files left: \(files.sorted())") }
            if files.filter({ $0.hasPrefix("cells-") }).count != 1 { problems.append("\(name): not one generation: \(files.sorted())") }
            let check = "open-\(name).bsn"
            try "open \(name)\nquit --no-save\n".write(to: dir.appendingPathComponent(check), atomically: false, encoding: .utf8)
            let outcome = Self.run(check, in: dir, as: 1000, binary: binary, memoryKB: memoryKB)
            if outcome != .exited(0) {
                let err = (try? String(contentsOf: dir.appendingPathComponent("stderr-1000.txt"), encoding: .utf8)) ?? ""
                problems.append("\(name) does not open after the round: \(err.prefix(300))")
            }
        }
        return problems
    }

    private static func run(_ script: String, in dir: URL, as k: Int, binary: String, memoryKB: Int) -> Child.Outcome {
        var child = Child(binary: binary, arguments: ["run", script], folder: dir, memoryLimitKB: memoryKB, deadline: 120, grace: 20)
        child.outputName = "-\(k)"
        child.environment = ["BSN_CONV_ALGORITHM": "gemm", "BSN_CACHE": dir.appendingPathComponent("cache").path]
        return (try? child.run().outcome) ?? .exited(97)
    }
}

/// Results written by the round's threads.
private final class UncheckedResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [(String, Child.Outcome)?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ k: Int, _ script: String, _ outcome: Child.Outcome) { lock.withLock { values[k] = (script, outcome) } }
}
