import DatasetFiles
import Datasets
import Foundation
import Session
import Tensor

/// Valid files of every format bsn reads, and mutations of them: CIFAR-10/100
/// records and name files, Part Labels JPEGs, PPM masks and split files,
/// session files (re-signed with a valid checksum most of the time, so that
/// the values inside are what gets tested), exported architectures and models,
/// image folders and search-space files.
public struct FileMutations {
    public enum Format: String, CaseIterable, Sendable {
        case cifar10, cifar100, jpeg, ppm, split, session, arch, model, images, masks, space
    }

    var rng: RNG
    /// A saved session (`base`) and its exported architecture, made by the real binary.
    let template: URL

    mutating func pick<T>(_ items: [T]) -> T { items[rng.integer(below: items.count)] }
    mutating func chance(_ p: Float) -> Bool { rng.uniform() < p }

    // MARK: mutations

    static let hugeNumbers = ["64000000000000", "1099511627778", "-1", "0", "1e308", "1e400", "9223372036854775807", "-9223372036854775808",
                              "18446744073709551616", "0.5", "\"nan\"", "\"inf\"", "null", "true", "\"x\"", "[]", "{}", "4294967296", "65536", "2"]

    /// Flips bits, sets bytes, truncates, inserts, deletes or duplicates a range, or writes a 32-bit integer.
    mutating func mutateBytes(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { bytes = [UInt8(truncatingIfNeeded: rng.next())]; return }
        for _ in 0..<(1 + rng.integer(below: 3)) {
            let at = rng.integer(below: max(bytes.count, 1))
            switch rng.integer(below: 8) {
            case 0: bytes[at] ^= UInt8(1 << rng.integer(below: 8))
            case 1: bytes[at] = pick([0, 0xFF, 0x7F, 0x80, 0x0A, 0x20])
            case 2: bytes.removeSubrange(at...)
            case 3: bytes.insert(contentsOf: (0..<(1 + rng.integer(below: 64))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            case 4: bytes.removeSubrange(at..<min(bytes.count, at + 1 + rng.integer(below: 512)))
            case 5: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 1 + rng.integer(below: 512))], at: at)
            case 6:
                let value: UInt32 = pick([0xFFFF_FFFF, 0x7FFF_FFFF, 0x1000_0000, 0, 1, 0xFFFF])
                for k in 0..<4 where at + k < bytes.count { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
            default: if !bytes.isEmpty { bytes[at] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            if bytes.isEmpty { return }
        }
    }

    /// Replaces a number in a text with a huge or special value, or damages a line.
    mutating func mutateText(_ text: inout String) {
        var chars = Array(text.utf8)
        var numbers = [Range<Int>](), i = 0
        while i < chars.count {
            if (chars[i] >= 0x30 && chars[i] <= 0x39) || (chars[i] == UInt8(ascii: "-") && i + 1 < chars.count && chars[i + 1] >= 0x30 && chars[i + 1] <= 0x39) {
                let start = i
                i += 1
                while i < chars.count, (chars[i] >= 0x30 && chars[i] <= 0x39) || [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(chars[i]) { i += 1 }
                numbers.append(start..<i)
            } else { i += 1 }
        }
        if !numbers.isEmpty && chance(0.8) {
            for _ in 0..<(1 + rng.integer(below: 2)) {
                let r = pick(numbers)
                guard r.upperBound <= chars.count else { continue }
                chars.replaceSubrange(r, with: Array(pick(Self.hugeNumbers).utf8))
                break
            }
            text = String(decoding: chars, as: UTF8.self)
        } else {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let k = rng.integer(below: max(lines.count, 1))
            switch rng.integer(below: 4) {
            case 0: if !lines.isEmpty { lines.remove(at: k) }
            case 1: lines.insert(pick(["Name 99999999999999999999", "Name -1", "Name", "日本 1", "\u{0}", String(repeating: "A", count: 5000) + " 1", "Ann_Lee 1 2"]), at: min(k, lines.count))
            case 2: if !lines.isEmpty { lines[k] = String(lines[k].reversed()) }
            default:
                var bytes = Array(text.utf8)
                mutateBytes(&bytes)
                text = String(decoding: bytes, as: UTF8.self)
                return
            }
            text = lines.joined(separator: "\n")
        }
    }

    /// A session file's payload mutated, then (most of the time) re-signed with its true length and checksum.
    mutating func mutateCheckedFile(_ url: URL) throws {
        var bytes = [UInt8](try Data(contentsOf: url))
        guard let newline = bytes.firstIndex(of: 0x0A), chance(0.85) else {
            mutateBytes(&bytes)
            return try Data(bytes).write(to: url)
        }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: " ")
        var payload = Array(bytes[(newline + 1)...])
        if url.pathExtension == "bin" {
            mutateBytes(&payload)
        } else if url.pathExtension == "bsnmodel", payload.count > 4 {
            // A model: its JSON header (then its length fixed) or its tensors.
            let length = min(payload.count - 4, Int(payload[0]) | Int(payload[1]) << 8 | Int(payload[2]) << 16 | Int(payload[3]) << 24)
            var header = String(decoding: payload[4..<4 + length], as: UTF8.self), tensors = Array(payload[(4 + length)...])
            if chance(0.6) { mutateText(&header) } else { mutateBytes(&tensors) }
            let n = UInt32(header.utf8.count)
            payload = (0..<4).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + Array(header.utf8) + tensors
        } else {
            var text = String(decoding: payload, as: UTF8.self)
            mutateText(&text)
            payload = Array(text.utf8)
        }
        let header = "\(fields.first ?? "bsn-x") \(fields.count > 1 ? fields[1] : "1") \(payload.count) \(String(format: "%08x", CRC32.of(payload)))\n"
        try Data(Array(header.utf8) + payload).write(to: url)
    }

    /// Changes a JPEG's frame size (SOF marker) or damages its bytes.
    mutating func mutateJPEG(_ bytes: inout [UInt8]) {
        if chance(0.5), let sof = (0..<(bytes.count - 9)).first(where: { bytes[$0] == 0xFF && (0xC0...0xC2).contains(bytes[$0 + 1]) }) {
            let (w, h) = pick([(65500, 65500), (30000, 30000), (0, 0), (1, 1), (251, 250), (250, 65535), (8, 8)])
            bytes[sof + 5] = UInt8(h >> 8); bytes[sof + 6] = UInt8(h & 0xFF)
            bytes[sof + 7] = UInt8(w >> 8); bytes[sof + 8] = UInt8(w & 0xFF)
        } else {
            mutateBytes(&bytes)
        }
    }

    /// Sets a PNG's IHDR width and height (the CRC no longer matches, as in a hand-edited file) or damages its bytes.
    mutating func mutatePNGSize(_ bytes: inout [UInt8]) {
        guard bytes.count > 24, chance(0.7) else { return mutateBytes(&bytes) }
        let (w, h) = pick([(65500, 65500), (0, 0), (1, 1), (1 << 31 - 1, 2), (3, 100_000)])
        for (k, v) in [(16, w), (20, h)] {
            for b in 0..<4 { bytes[k + b] = UInt8(truncatingIfNeeded: v >> (24 - 8 * b)) }
        }
    }

    /// Changes a PPM's header or damages its bytes.
    mutating func mutatePPM(_ bytes: inout [UInt8]) {
        if chance(0.5) {
            let header = pick(["P6\n65500 65500\n255\n", "P6\n250 250\n65535\n", "P6\n250 250\n0\n", "P6\n-1 250\n255\n", "P3\n250 250\n255\n",
                               "P6\n999999999 999999999\n255\n", "P6 # comment\n250 250\n255\n", "P6\n250\n", "P6\n250 250 255"])
            let pixels = bytes.count > 15 ? Array(bytes[15...]) : []
            bytes = Array(header.utf8) + pixels
        } else {
            mutateBytes(&bytes)
        }
    }

    /// A small valid search space that uses every construct: parameters, loops, a condition, `let`, gated and fixed edges.
    static let space = """
        space: fuzz
        params: {C: 4, L: 2}
        input: x
        body:
          - node: a0
            from: x
            op: conv k=3 relu
            out: C
          - for: l in 1..L
            do:
              - let: {w: "l == L ? 2 * C : C"}
              - node: a{l}
              - edge: a{l}-3x3
                from: a{l-1}
                to: a{l}
                op: conv k=3
                out: w
              - edge: a{l}-skip
                from: a{l-1}
                to: a{l}
                op: conv k=1
                out: w
              - if: l > 1
                do:
                  - node: p{l}
                    from: a{l}
                    op: pool max
          - edge: fixed
            from: a0
            to: a1
            op: conv k=1 stride=1
            out: C
            fixed: true
        output: {from: "p{L}", head: classify}
        """

    /// YAML and space-specific damage: aliases, tabs, huge loops and widths, deep nesting, cycles, bad operations.
    mutating func mutateSpace(_ text: inout String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let k = rng.integer(below: lines.count)
        switch rng.integer(below: 6) {
        case 0:
            lines.insert(pick(["  - for: i in 0..999999999", "    do: [&a {node: q}, *a]", "params: &p {C: 4}", "\t- node: t", "  - node: a0",
                               "  - edge: e\n    from: a2\n    to: a0\n    op: conv k=3", "    op: conv k=65536 stride=65536",
                               "    out: 9223372036854775807 * 2", "  - let: {C: C + 1}", "output: {from: x, head: segment}",
                               "  - node: " + String(repeating: "{", count: 3000), "    scale: -1", "    gated: maybe",
                               String(repeating: " ", count: 2000) + "- node: far", "# 日本 \u{0}", "  - if: 1 / 0\n    do: []"]), at: k)
        case 1:
            // Deep nesting of flow collections or of indented lists.
            let depth = pick([65, 200, 5000])
            lines.insert(pick(["params: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth),
                               (0..<min(depth, 300)).map { String(repeating: " ", count: 2 * $0) + "- do:" }.joined(separator: "\n")]), at: k)
        case 2:
            lines[k] = pick(["params: {C: 64, L: 64}", "params: {C: 1, L: 0}", "params: {C: 0, L: 2}", "params: {C: -4, L: 2}",
                             "params: {C: 4, L: 100000}", "input: [x, y]", "space: ", "body: 7"])
        default:
            return mutateText(&text)
        }
        text = lines.joined(separator: "\n")
    }

    // MARK: cases

    /// Writes one mutated case of `format` into `dir` and returns the commands that read it.
    mutating func makeCase(_ format: Format, in dir: URL, index: Int) throws -> [String] {
        let fm = FileManager.default
        let name = "c\(index)"
        let folder = dir.appendingPathComponent(name)
        switch format {
        case .cifar10:
            try DatasetFiles.writeCIFAR10(folder) { _, _ in .random(labelBytes: 1, classes: 10, rng: &rng) }
            let file = folder.appendingPathComponent(pick(["data_batch_1.bin", "data_batch_3.bin", "test_batch.bin", "batches.meta.txt"]))
            try mutate(file, text: file.pathExtension == "txt")
            return ["load cifar10 \(name) val=\(pick(["2", "0", "19", "20", "100"]))", "data", "build cnf W=1 S=2 C=2", "train 1 steps"]
        case .cifar100:
            try DatasetFiles.writeCIFAR100(folder, train: 4, test: 4) { _, _ in .random(labelBytes: 2, classes: 20, rng: &rng) }
            let file = folder.appendingPathComponent(pick(["train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"]))
            try mutate(file, text: file.pathExtension == "txt")
            return ["load cifar100 \(name) val=2 labels=\(pick(["fine", "coarse"]))", "data"]
        case .jpeg, .ppm, .split:
            try DatasetFiles.writePartLabels(folder)
            let entry = PartLabels.Entry(name: "Ann_Lee", number: pick([1, 2]))
            switch format {
            case .jpeg:
                var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: entry.imagePath(folder))))
                mutateJPEG(&bytes)
                try Data(bytes).write(to: URL(fileURLWithPath: entry.imagePath(folder)))
            case .ppm:
                var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: entry.maskPath(folder))))
                mutatePPM(&bytes)
                try Data(bytes).write(to: URL(fileURLWithPath: entry.maskPath(folder)))
            default:
                try mutate(folder.appendingPathComponent(pick(PartLabels.splitFiles)), text: true)
            }
            return ["load partlabels \(name) onerror=\(pick(["skip", "stop"]))", "data"]
        case .images, .masks:
            // A small folder as export images writes it, then damage: a file's bytes or its PNG header's size, classes.txt,
            // a file removed or emptied, a stray non-image, an empty folder.
            let source: any DatasetSource = format == .images ? Shapes(train: 12, validation: 4, test: 4, seed: rng.next())
                                                              : Faces(side: 16, train: 6, validation: 2, test: 2, seed: rng.next())
            _ = try FolderExport.write(try source.load(), to: folder.path, splits: Split.allCases)
            let files = try fm.subpathsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".png") }.sorted()
            let victim = folder.appendingPathComponent(pick(files))
            for _ in 0..<(1 + rng.integer(below: 2)) where fm.fileExists(atPath: victim.path) {
                switch rng.integer(below: 6) {
                case 0:
                    var bytes = [UInt8](try Data(contentsOf: victim))
                    mutatePNGSize(&bytes)
                    try Data(bytes).write(to: victim)
                case 1: try mutate(victim, text: false)
                case 2: if fm.fileExists(atPath: folder.appendingPathComponent("classes.txt").path) { try mutate(folder.appendingPathComponent("classes.txt"), text: true) }
                case 3: try Data(pick([[], [0x89, 0x50, 0x4E, 0x47], Array("not an image".utf8)])).write(to: victim)
                case 4: try? fm.removeItem(at: victim)
                default:
                    let parent = victim.deletingLastPathComponent()
                    try fm.createDirectory(at: parent.appendingPathComponent(pick(["empty", "été ünï", "sub"])), withIntermediateDirectories: true)
                    try Data("notes".utf8).write(to: parent.appendingPathComponent(pick(["notes.txt", "x.jpg", ".hidden.png"])))
                }
            }
            let options = pick(["", "size=8", "size=16x8", "strict=on", "flip=on crop=pad:2", "size=0", "val=3"])
            return format == .images
                ? ["load images \(name) \(options)", "data", "build cnf W=1 S=2 C=2", "train 1 steps", "eval val"]
                : ["load masks \(name) \(options)", "data", "build cnf-seg W=1 S=2 C=2", "train 1 steps", "eval val", "render masks \(name)-m.png"]
        case .session:
            let sessions = dir.appendingPathComponent("sessions")
            try fm.createDirectory(at: sessions, withIntermediateDirectories: true)
            let copy = sessions.appendingPathComponent(name)
            try fm.copyItem(at: template.appendingPathComponent("sessions/base"), to: copy)
            let files = try fm.contentsOfDirectory(atPath: copy.path).filter { !$0.hasPrefix(".") }
            let target = chance(0.5) ? "session.json" : pick(files)
            for _ in 0..<(1 + rng.integer(below: 2)) { try mutateCheckedFile(copy.appendingPathComponent(target)) }
            return ["open \(name)", "inspect", "costs", "train 1 steps", "eval val", "render graph \(name).png", "render history \(name)-h.png", "sessions"]
        case .arch:
            let file = dir.appendingPathComponent("\(name).json")
            try fm.copyItem(at: template.appendingPathComponent("arch.json"), to: file)
            try mutate(file, text: true)
            return ["load shapes train=32 val=8 test=8", "build from \(name).json", "arch", "train 1 steps", "export arch \(name)-out.json"]
        case .space:
            var text = Self.space
            // A third of the files stay valid, so that the options and the commands after build get exercised too.
            for _ in 0..<(chance(0.35) ? 0 : 1 + rng.integer(below: 2)) { if chance(0.6) { mutateSpace(&text) } else { mutateText(&text) } }
            try Data(text.utf8).write(to: dir.appendingPathComponent("\(name).yaml"))
            let options = pick(["", "C=2", "L=3", "C=0", "L=999999", "C=99999999999999999999", "gated=no", "mode=x", "Q=1", "C=yes"])
            return ["load shapes train=32 val=8 test=8", "build space \(name).yaml \(options)", "summary", "costs", "train 1 steps",
                    "render graph \(name).png", "export arch \(name)-a.json", "save \(name)"]
        case .model:
            let file = dir.appendingPathComponent("\(name).bsnmodel")
            try fm.copyItem(at: template.appendingPathComponent("model.bsnmodel"), to: file)
            if !fm.fileExists(atPath: dir.appendingPathComponent("image.png").path) {
                try fm.copyItem(at: template.appendingPathComponent("image.png"), to: dir.appendingPathComponent("image.png"))
            }
            for _ in 0..<(1 + rng.integer(below: 2)) { try mutateCheckedFile(file) }
            return ["infer image.png --model=\(name).bsnmodel", "load shapes train=32 val=8 test=8", "build cnf W=2 S=3 C=4",
                    "infer image.png --model=\(name).bsnmodel --json"]
        }
    }

    private mutating func mutate(_ file: URL, text: Bool) throws {
        if text, var string = String(data: try Data(contentsOf: file), encoding: .utf8) {
            mutateText(&string)
            try Data(string.utf8).write(to: file)
        } else {
            var bytes = [UInt8](try Data(contentsOf: file))
            mutateBytes(&bytes)
            try Data(bytes).write(to: file)
        }
    }
}
