import Datasets
import Files
import Foundation
import Interface
import Layers
import SuperNet
import Tensor

/// Sessions on disk: `<root>/<name>/`, one folder per session.
///
///     session.json        manifest: specs, settings, counters, generators,
///                         and the names of this save's other files
///     state-<g>.bin       tensors: weights, batch-norm statistics, gate
///                         logits, optimizer velocities (TensorArchive)
///     steps-<g>.jsonl     per-step metrics, one JSON object per line
///     epochs-<g>.jsonl    per-epoch metrics and evaluations
///     cells-<g>.jsonl     the transcript: every cell's command and output
///     *.png               pictures rendered in the session
///
///     .lock               the folder's lock (flock) and who holds it
///
/// Every file is a CheckedFile (header with kind, version, length, CRC-32)
/// written atomically. A save writes generation g + 1's files first and the
/// manifest last, then removes generation g's: a crash at any point leaves a
/// manifest whose files are all intact.
///
/// Several processes may share a sessions folder (sweep workers, a second
/// notebook, job-array tasks):
/// - a process that may write a session holds its folder's lock
///   (`FolderLock`) from the moment it opens or first saves it until it lets
///   it go; saving always happens under that lock, so two saves never mix;
/// - opening a session another process holds gives a read-only session
///   (saying who holds it); saving one waits up to `BSN_LOCK_WAIT` seconds
///   for the lock, then fails naming the holder;
/// - a save refuses to replace a generation it did not open (another process
///   saved the session meanwhile): nothing is lost without a word;
/// - readers take no lock: they read the manifest, then the files it names;
///   when a newer save removed one of them meanwhile they read again, so a
///   reader never sees a half-written generation and never blocks a writer;
/// - stale files (temporary files of interrupted saves, generations the
///   manifest does not name) are removed only under the lock, and temporary
///   files only when their process is gone.
public struct SessionStore: Sendable {
    public let root: URL
    /// The processes that open sessions from this store together (sessions opened here run with them).
    public let ranks: any Communicator
    /// False for the follower ranks under mpirun: rank 0 writes the session, `save` writes nothing here.
    public var writes: Bool

    public init(root: URL, ranks: any Communicator = SingleProcess()) {
        self.root = root
        self.ranks = ranks
        writes = ranks.isLeader
    }

    /// `BSN_SESSIONS` if set, else `./sessions`; under mpirun only rank 0's store writes.
    public static func `default`(ranks: any Communicator = SingleProcess()) -> SessionStore {
        SessionStore(root: URL(fileURLWithPath: ProcessInfo.processInfo.environment["BSN_SESSIONS"] ?? "sessions"), ranks: ranks)
    }

    public func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// The files of a generation, besides the manifest ("<role>-<g>.<ext>").
    static let roles: Set<String> = ["state", "steps", "epochs", "cells"]

    /// What a command says about a session opened read-only.
    public static func describeReadOnly(_ reason: String) -> String {
        "read-only: \(reason); it cannot be saved under this name while that lasts (save <other-name> keeps your changes)"
    }

    /// What a command says about stale files it found removed.
    public static func describeRemoved(_ names: [String]) -> String {
        "removed stale files of an interrupted save: \(names.joined(separator: ", "))"
    }

    struct Manifest: Codable {
        var format = "bsn-session"
        var name: String
        var savedAt: String
        var generation: Int
        var settings: Settings
        var variables: [String: String]
        var rng: RNG
        var dataset: SavedChoice<DatasetSources>?
        var datasetName: String?
        var loader: LoaderState?
        var model: ModelSpec?
        var modelName: String?
        var budget: BudgetSpec?
        var trainer: Trainer.State?
        var renders: [String]
        var lastAccuracy: Double?
        /// The validation accuracy of the last epoch (absent in older sessions).
        var lastValidationAccuracy: Double?
        /// The deterministic architecture's latest accuracy on validation and on test (`Session.latestAccuracy`; absent in older sessions).
        var validationAccuracy: Double?
        var testAccuracy: Double?
        /// The optimised cost of the deterministic architecture when saved, and its name.
        var cost: Double?
        var costName: String?
        /// The convolution algorithm of each shape this process computed with
        /// (absent in older sessions): pinned on open, so a resumed run computes the same.
        var convolutionChoices: [String: String]?
        /// A sweep's child: where it came from (absent otherwise).
        var origin: SweepOrigin?
        /// A sweep recorded for job arrays (`sweep … --plan`).
        var sweepPlan: SweepPlan? = nil
        /// The decisions of its last halving sweep.
        var halving: HalvingRecord? = nil
        var files: [String: String]          // role → file name
    }

    /// Valid session names: letters, digits, '-', '_', '.', not starting with
    /// '.'; at most 100 characters and 255 bytes (a file name's limit: a name
    /// of 100 letters outside ASCII can pass it).
    public static func check(name: String) throws {
        let ok = !name.isEmpty && name.count <= 100 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
        guard ok else { throw SessionError("'\(shown(name))' is not a valid session name (letters, digits, - _ . ; not starting with .; at most 100 characters)") }
        guard name.utf8.count <= 255 else {
            throw SessionError("'\(shown(name))' is not a valid session name: \(name.utf8.count) bytes in UTF-8, a file name has at most 255")
        }
    }

    /// Why the folder of session `name` cannot be a session's, or nil when it
    /// can: it does not exist yet, or it is a folder bsn made (it holds the
    /// lock file or a manifest, or nothing). A symbolic link, a file, a device
    /// or somebody's non-empty folder planted under that name is never written
    /// into, nor read as a session.
    public func refusal(of name: String) -> String? {
        let dir = folder(name)
        var info = stat()
        guard lstat(dir.path, &info) == 0 else { return errno == ENOENT ? nil : "\(dir.path): \(String(cString: strerror(errno)))" }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK:
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: dir.path)).map { " to \($0)" } ?? ""
            return "\(dir.path) is a symbolic link\(target), not a session folder; bsn writes sessions only in folders it made (remove the link, or use another name)"
        case S_IFREG: return "\(dir.path) is a file, not a session folder (remove it, or use another name)"
        default: return "\(dir.path) is a special file, not a session folder (use another name)"
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        if names.isEmpty || names.contains(".lock") || names.contains("session.json") { return nil }
        let shown = names.sorted().prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
        return "\(dir.path) is a folder bsn did not make (it holds \(shown)); bsn writes sessions only in folders it made (use another name)"
    }

    // MARK: save

    /// Makes sure this process holds the session's folder (creating it):
    /// its own lock, or the free lock of a session never saved or saved
    /// there. False when another process holds it (nothing is written then).
    func hold(_ s: Session) -> Bool {
        let dir = folder(s.name)
        guard writes else { return false }
        if s.lock?.folder == dir.path { return true }
        if let known = s.savedGeneration, known.folder != dir.path { return false }
        guard (try? Self.check(name: s.name)) != nil, refusal(of: s.name) == nil,
              (try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)) != nil,
              let lock = try? FolderLock(dir.path, wait: 0) else { return false }
        s.lock = lock
        return true
    }

    /// Writes generation g + 1 of the session and removes what is stale
    /// (generation g, temporary files of interrupted saves); returns the stale
    /// files it removed. A save that cannot complete throws why, removes what
    /// it had written and leaves generation g as it was.
    @discardableResult
    public func save(_ s: Session) throws -> [String] {
        try Self.check(name: s.name)
        guard writes else { return [] }
        let dir = folder(s.name)
        if let refusal = refusal(of: s.name) { throw SessionError("cannot save session '\(s.name)': \(refusal)") }
        if let missing = s.dataUnavailable, s.savedGeneration?.folder == dir.path {
            throw SessionError("cannot save session '\(s.name)': it was opened without its data and would lose its model: \(missing); save <other-name> keeps this session's work")
        }
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw SessionError("cannot save session '\(s.name)': \(dir.path): cannot create the session folder (\(error.localizedDescription))")
        }
        // The folder's lock: this session's own, or taken now (waiting a bounded time for another process to let it go).
        let lock: FolderLock
        if let held = s.lock, held.folder == dir.path { lock = held } else {
            do { lock = try FolderLock(dir.path, wait: FolderLock.defaultWait) } catch {
                throw SessionError("cannot save session '\(s.name)': \(error); save <other-name> keeps this session's work")
            }
        }
        let previous = try? readManifest(dir)
        // Another process saved this folder since this session read it: replacing that save would lose it.
        if let known = s.savedGeneration, known.folder == dir.path, let previous, previous.generation != known.generation {
            throw SessionError("cannot save session '\(s.name)': another process saved it since it was opened here (now at save \(previous.generation), opened at \(known.generation)); "
                               + "save <other-name> keeps this session's work, open \(s.name) shows the other's")
        }
        let g = (previous?.generation ?? 0) + 1
        var files = [String: String]()
        do {
            func put(_ role: String, _ ext: String, size: Int, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
                let name = "\(role)-\(g).\(ext)"
                files[role] = name
                try CheckedFile.write(kind: role, size: size, to: dir.appendingPathComponent(name), produce: produce)
            }
            func put(_ role: String, _ ext: String, _ payload: Data) throws {
                try put(role, ext, size: payload.count) { sink in try payload.withUnsafeBytes { try sink($0) } }
            }
            if let trainer = s.trainer {
                // Streamed from the tensors: a save needs no copy of the state in memory.
                let tensors = trainer.stateTensors
                try put("state", "bin", size: TensorArchive.size(of: tensors)) { try TensorArchive.write(tensors, to: $0) }
            }
            try put("steps", "jsonl", try jsonLines(s.steps))
            try put("epochs", "jsonl", try jsonLines(s.epochs.map(HistoryLine.epoch) + s.evaluations.map(HistoryLine.evaluation)))
            try put("cells", "jsonl", try jsonLines(s.cells))

            let manifest = Manifest(name: s.name, savedAt: ISO8601DateFormatter().string(from: Date()), generation: g,
                                    settings: s.settings, variables: s.variables, rng: s.rng,
                                    dataset: s.datasetSource.map(SavedChoice<DatasetSources>.init), datasetName: s.dataset?.name, loader: s.loader?.state,
                                    model: s.modelSpec, modelName: s.modelSpec?.fabric.summary, budget: s.budgetSpec,
                                    trainer: s.trainer?.state, renders: s.renders,
                                    lastAccuracy: s.evaluations.last?.accuracy ?? s.epochs.last?.validationAccuracy ?? s.steps.last?.accuracy,
                                    lastValidationAccuracy: s.epochs.last?.validationAccuracy,
                                    validationAccuracy: s.latestAccuracy(on: .validation), testAccuracy: s.latestAccuracy(on: .test),
                                    cost: s.network.map { n in s.reportedCost!.cost(of: n.deterministicArchitecture) },
                                    costName: s.optimisedCost?.name, convolutionChoices: s.context.convolutions.used, origin: s.origin,
                                    sweepPlan: s.sweepPlan, halving: s.halvingRecord, files: files)
            if let pause = Self.pauseBeforeManifest { Thread.sleep(forTimeInterval: pause) }
            try CheckedFile.write(try SessionJSON.encoder(pretty: true).encode(manifest), kind: "session", to: dir.appendingPathComponent("session.json"))
        } catch {
            // The manifest still names generation g: what this save wrote is an orphan.
            for name in files.values where !(previous?.files.values.contains(name) ?? false) {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(name))
            }
            throw SessionError("cannot save session '\(s.name)': \(error)" + (previous == nil ? "" : "; its previous save is intact"))
        }
        // The session now holds this folder (and lets go of the one it was saved in before, on a save under a new name).
        s.lock = lock
        s.savedGeneration = (dir.path, g)
        s.readOnlyBecause = nil
        s.cellsWhenSaved = s.cells.count
        // The new manifest is on disk: the previous generation's files can go
        // (quietly), and so can anything an interrupted save left (reported).
        let previousFiles = Set(previous?.files.values.map { $0 } ?? [])
        return removeStaleFiles(dir, keeping: Set(files.values), lock: lock).filter { !previousFiles.contains($0) }
    }

    /// Tests: `BSN_TEST_PAUSE_BEFORE_MANIFEST=<seconds>` holds every save between
    /// writing its generation's files and its manifest (a writer caught mid-save).
    static let pauseBeforeManifest = ProcessInfo.processInfo.environment["BSN_TEST_PAUSE_BEFORE_MANIFEST"].flatMap(Double.init)

    /// Removes from a session folder the temporary files of saves that did
    /// not finish (their process is gone) and the generation files the
    /// manifest does not name. Returns their names. Only under the folder's
    /// lock: then no other process is writing there.
    func removeStaleFiles(_ dir: URL, keeping current: Set<String>, lock: FolderLock) -> [String] {
        precondition(lock.folder == dir.path, "stale files are removed only under the folder's lock")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        var removed = [String]()
        for name in names.sorted() {
            var stale = false
            if let pid = AtomicFile.writer(ofTemporary: name) {
                stale = AtomicFile.isGone(pid)
            } else if let dash = name.lastIndex(of: "-"), let dot = name.lastIndex(of: "."), dash < dot,
                      Self.roles.contains(String(name[..<dash])),
                      Int(name[name.index(after: dash)..<dot]) != nil, ["bin", "jsonl"].contains(String(name[name.index(after: dot)...])) {
                stale = !current.contains(name)
            }
            if stale, (try? FileManager.default.removeItem(at: dir.appendingPathComponent(name))) != nil { removed.append(name) }
        }
        return removed
    }

    private func jsonLines<T: Encodable>(_ items: [T]) throws -> Data {
        let encoder = SessionJSON.encoder()
        var out = Data()
        for item in items {
            out.append(try encoder.encode(item))
            out.append(0x0A)
        }
        return out
    }

    enum HistoryLine: Codable {
        case epoch(EpochMetrics)
        case evaluation(Session.Evaluation)
    }

    // MARK: open

    func readManifest(_ dir: URL) throws -> Manifest {
        let file = dir.appendingPathComponent("session.json")
        let data = try CheckedFile.read(file, kind: "session")
        do {
            let m = try SessionJSON.decoder().decode(Manifest.self, from: data)
            guard m.format == "bsn-session" else { throw SessionError("\(file.path): not a bsn session manifest") }
            try m.validate(file: file.path)
            return m
        } catch let e as SessionError { throw e } catch {
            throw SessionError("\(file.path): the manifest does not parse (\(error))")
        }
    }

    /// How `open` treats the session's folder lock.
    public enum Access: Sendable {
        /// Take the lock when it is free; when another process holds it, open read-only (saying who holds it).
        case write
        /// Take the lock, waiting up to `BSN_LOCK_WAIT` seconds; fail naming the holder (a sweep worker's child).
        case requireWrite
        /// No lock, nothing removed (a parent read to make a sweep's child).
        case read
    }

    /// One generation's files, read and checked, before anything is built.
    private struct Generation {
        let manifest: Manifest, state: Data?, steps: [StepMetrics], history: [HistoryLine], cells: [Cell]
    }

    /// Opens a saved session: reloads its dataset, rebuilds its model, puts
    /// back every tensor and counter, applies its settings. The session is
    /// named after its folder (a copied folder is a session of its own). On
    /// disk, only stale files are removed, under the lock (temporary files of
    /// interrupted saves, generations the manifest does not name); `removed`
    /// gets their names.
    /// `holding`: a lock this process already holds (the session open in the notebook, opened again).
    public func open(_ name: String, access: Access = .write, holding: FolderLock? = nil, progress: ((Int, Int) -> Void)? = nil,
                     removed: (([String]) -> Void)? = nil, datasets: DatasetCache? = nil) throws -> Session {
        try Self.check(name: name)
        let dir = folder(name)
        guard FileManager.default.fileExists(atPath: dir.path) else {
            let saved = list().map(\.name)
            throw SessionError("no session '\(name)' in \(root.path)" + (saved.isEmpty ? "" : " (sessions: \(saved.joined(separator: ", ")))"))
        }
        if let refusal = refusal(of: name) { throw SessionError(refusal) }
        var lock: FolderLock?, readOnlyBecause: String?
        // A store that does not write (a follower rank under mpirun) takes no lock: rank 0 holds it.
        let access = writes ? access : .read
        switch access {
        case _ where holding?.folder == dir.path && access != .read: lock = holding
        case .read: break
        case .write:
            do { lock = try FolderLock(dir.path, wait: 0) } catch { readOnlyBecause = "\(error)" }
        case .requireWrite:
            do { lock = try FolderLock(dir.path, wait: FolderLock.defaultWait) } catch { throw SessionError("cannot open session '\(name)' to write it: \(error)") }
        }
        let g = try readGeneration(dir, locked: lock != nil)
        let m = g.manifest
        let s = Session(name: name, ranks: ranks)
        if let choices = m.convolutionChoices { s.context.convolutions.pin(choices) }
        s.settings = m.settings
        s.variables = m.variables
        s.rng = m.rng
        do {
            try s.restore(dataset: m.dataset?.value, loader: m.loader, model: m.model, budget: m.budget, trainer: m.trainer, progress: progress, datasets: datasets)
        } catch where m.dataset != nil && s.dataset == nil && access != .requireWrite {
            // Its data cannot be loaded (a folder moved or gone, a file damaged): the session
            // opens without data and model, its save kept as it is (saving under its name is refused).
            let source = m.dataset!.value
            s.dataUnavailable = "its data could not be loaded (\(error)); the saved model and training stay on disk as they are: "
                + "bring \(source.name) back (\(source.origin)) and open \(name) again, or load it from its new place in a new session"
        }
        if let state = g.state, let trainer = s.trainer {
            try TensorArchive.restore(state, into: trainer.stateTensors, file: dir.appendingPathComponent(m.files["state"]!).path)
        }
        s.steps = g.steps
        for line in g.history {
            switch line {
            case .epoch(let e): s.epochs.append(e)
            case .evaluation(let e): s.evaluations.append(e)
            }
        }
        s.cells = g.cells
        s.renders = m.renders
        s.origin = m.origin
        s.sweepPlan = m.sweepPlan
        s.halvingRecord = m.halving
        s.lock = lock
        s.savedGeneration = (dir.path, m.generation)
        s.cellsWhenSaved = s.cells.count
        s.trainedStepsAtOpen = s.trainer?.step ?? 0
        s.readOnlyBecause = access == .read ? "opened to read only" : readOnlyBecause ?? s.dataUnavailable
        if let lock {
            let stale = removeStaleFiles(dir, keeping: Set(m.files.values), lock: lock)
            if !stale.isEmpty { removed?(stale) }
        }
        return s
    }

    /// Reads the manifest, then every file it names. Without the lock, a
    /// newer save may replace the generation while it is read (its files are
    /// then removed): the manifest is read again and the new generation read.
    private func readGeneration(_ dir: URL, locked: Bool) throws -> Generation {
        var attempts = 0
        while true {
            let m = try readManifest(dir)
            do {
                return try readFiles(m, dir)
            } catch let e as SessionError where !locked && attempts < 100 && e.kind == .missing {
                // Read again only when a newer save is what removed the file.
                guard let now = try? readManifest(dir), now.generation != m.generation else { throw e }
                attempts += 1
            }
        }
    }

    private func readFiles(_ m: Manifest, _ dir: URL) throws -> Generation {
        func payload(_ role: String) throws -> Data {
            guard let file = m.files[role] else { throw SessionError("\(dir.path)/session.json: no \(role) file listed") }
            return try CheckedFile.read(dir.appendingPathComponent(file), kind: role)
        }
        // Read and check every file before building anything.
        let state = m.model == nil ? nil : try payload("state")
        let steps: [StepMetrics] = try decodeLines(try payload("steps"), file: m.files["steps"]!)
        let history: [HistoryLine] = try decodeLines(try payload("epochs"), file: m.files["epochs"]!)
        // Counters of the history index and scale plots: untrusted like the manifest's.
        let counterBound = 0...1_000_000_000_000
        for (n, s) in steps.enumerated() where !counterBound.contains(s.step) {
            throw SessionError("\(dir.path)/\(m.files["steps"]!): line \(n + 1): step = \(s.step) is out of bounds")
        }
        for (n, line) in history.enumerated() {
            let (name, value): (String, Int) = switch line {
            case .epoch(let e): counterBound.contains(e.steps) ? ("epoch", e.epoch) : ("steps", e.steps)
            case .evaluation(let e): ("step", e.step)
            }
            guard counterBound.contains(value) else {
                throw SessionError("\(dir.path)/\(m.files["epochs"]!): line \(n + 1): \(name) = \(value) is out of bounds")
            }
        }
        let cells: [Cell] = try decodeLines(try payload("cells"), file: m.files["cells"]!)
        return Generation(manifest: m, state: state, steps: steps, history: history, cells: cells)
    }

    private func decodeLines<T: Decodable>(_ data: Data, file: String) throws -> [T] {
        let decoder = SessionJSON.decoder()
        var out = [T]()
        for (n, line) in data.split(separator: 0x0A).enumerated() {
            do { out.append(try decoder.decode(T.self, from: Data(line))) } catch {
                throw SessionError("\(file): line \(n + 1) does not parse")
            }
        }
        return out
    }

    // MARK: list

    public struct Listing: Codable, Sendable {
        public let name: String, dataset: String?, model: String?, steps: Int, lastAccuracy: Double?, savedAt: String
        public var cost: Double? = nil, costName: String? = nil
        public let problem: String?
        /// A sweep's child: where it came from.
        public var origin: SweepOrigin? = nil
        /// Who holds the session now ("pid 4242 on node-3 (bsn sweep-worker …), since …"), when a process does.
        public var holder: String? = nil
        /// The deterministic architecture's latest accuracy on validation and on test (see `Session.latestAccuracy`).
        public var validationAccuracy: Double? = nil, testAccuracy: Double? = nil
    }

    /// Every session folder, with what its manifest says (or why it cannot be read).
    public func list() -> [Listing] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.compactMap { name in
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder(name).path, isDirectory: &isFolder), isFolder.boolValue else { return nil }
            // A session not saved yet (only the pictures rendered in it, its lock): not a saved session.
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder(name).path)) ?? []
            if !files.contains("session.json") && !files.contains(where: { f in Self.roles.contains { f.hasPrefix($0 + "-") } }) { return nil }
            do {
                let m = try readManifest(folder(name))
                return Listing(name: name, dataset: m.datasetName, model: m.modelName, steps: m.trainer?.step ?? 0,
                               lastAccuracy: m.lastAccuracy, savedAt: m.savedAt, cost: m.cost, costName: m.costName, problem: nil,
                               origin: m.origin, holder: FolderLock.heldBy(folder(name).path),
                               validationAccuracy: m.validationAccuracy ?? m.lastValidationAccuracy, testAccuracy: m.testAccuracy)
            } catch {
                return Listing(name: name, dataset: nil, model: nil, steps: 0, lastAccuracy: nil, savedAt: "", problem: "\(error)")
            }
        }
    }
}
