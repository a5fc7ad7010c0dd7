import Foundation
import Notebook
import Tensor

/// Random notebook scripts: real commands with their real sub-commands and
/// options (from the registry), mixed with junk words, huge and special
/// numbers, unicode, long tokens and unbalanced quotes. Paths are relative
/// (the child runs in its own folder) or harmless (/dev/null, /dev/full, a
/// folder that does not exist), so a script never writes outside its folder.
struct CommandScripts {
    var rng: RNG

    /// Starts: nothing, or data and a small model of each kind.
    static let preludes: [[String]] = [
        [],
        ["load shapes train=64 val=16 test=16"],
        ["load shapes train=64 val=16 test=16", "build cnf W=2 S=3 C=4"],
        ["load shapes train=64 val=16 test=16", "set batch 16", "build cnf W=2 S=3 C=4", "budget flops 300k lambda=1e-5", "train 3 steps"],
        ["load faces train=16 val=8 test=8 size=16", "build cnf-seg W=2 S=3 C=4"],
        ["load shapes train=32 val=8 test=8", "build resnet-fabric k=2 n=1"],
        ["load shapes train=32 val=8 test=8", "build resnet depth=8"],
    ]

    static let numbers = ["0", "1", "2", "3", "4", "-1", "-0", "0.5", "1e-30", "1e30", "-1e30", "1e308", "1e309", "nan", "NaN", "inf",
                          "-inf", "99999999999", "9223372036854775807", "9223372036854775808", "18446744073709551616",
                          "86136246333364453242", "10M", "5k", "2G", "1e6", "64", "65", "63", "100000", "0x10", "1_000", "3.7", "-5",
                          "1e-7", "0.01", "10", "7"]
    static let junk = ["λ", "日本語", "🙂", "\u{202E}abc", "é", "--", "-", "=", "==", "a=b=c", "=5", "'unclosed", "\"unclosed", "\\",
                       "$undefined", "${", "${}", "$", "~", "#comment", "--help", "--json", "--all", "--no-val", "--x=1", "",
                       "train", "epochs", "steps", "val", "test", "train=", "W=", "S=", "C=", "k=", "n=", "lambda=", "mode="]
    static let paths = ["x.png", "out/none/x.png", "/nonexistent/folder/x.json", "/dev/null", "/dev/full", ".", "..", "a.json",
                        "s.bsn", "found.json", String(repeating: "n", count: 300) + ".png", "sessions", "~/h.json"]
    static let names = ["s1", "s2", "base", "x", "../up", ".hidden", "a b", "", String(repeating: "z", count: 120), "日本"]

    mutating func pick<T>(_ items: [T]) -> T { items[rng.integer(below: items.count)] }
    mutating func chance(_ p: Float) -> Bool { rng.uniform() < p }

    /// A number: mostly small, sometimes special.
    mutating func number() -> String {
        chance(0.6) ? String(rng.integer(below: 12)) : pick(Self.numbers)
    }

    /// A long token, digits or letters.
    mutating func longToken() -> String {
        let n = 200 + rng.integer(below: 3000)
        return String(repeating: chance(0.5) ? "9" : "x", count: n)
    }

    /// A small number that a command takes, special now and then.
    mutating func small(_ upTo: Int) -> String { chance(0.85) ? String(1 + rng.integer(below: upTo)) : number() }

    /// A line a user could have typed: a real usage with plausible values
    /// (special ones now and then), so that scripts reach trained, budgeted,
    /// saved and reopened states.
    mutating func plausible() -> String {
        let lr = pick(["0.1", "0.01", "1", "10", "0", "1e-3", "5", "11", "nan", "1e30"])
        switch rng.integer(below: 24) {
        case 0: return "load shapes train=\(small(64)) val=\(small(16)) test=\(small(16))"
        case 1: return "load faces train=\(small(16)) val=\(small(8)) test=\(small(8)) size=\(pick(["16", "32", "17", "64"]))"
        case 2: return "build cnf W=\(small(3)) S=\(small(4)) C=\(small(8))" + (chance(0.2) ? " gated=no" : "") + (chance(0.2) ? " mode=mask" : "")
        case 3: return "build cnf-seg W=\(small(3)) S=\(small(5)) C=\(small(6))"
        case 4: return "build resnet-fabric k=\(small(3)) n=\(small(2))"
        case 5: return pick(["build resnet depth=8", "build resnet depth=14", "build from found.json", "build from s.bsn"])
        case 6: return "budget \(pick(["flops", "params", "time"])) \(pick(["300k", "1k", "0", "1M", "5"])) lambda=\(pick(["1e-5", "1e-3", "0", "1", "1e10"]))" + (chance(0.3) ? " mode=abs" : "")
        case 7: return "budget parallel \(small(4)) \(small(20)) lambda=0.1"
        case 8: return "set \(pick(["lr", "path-lr", "momentum", "wd"])) \(lr)"
        case 9: return "set \(pick(["batch", "seed", "threads"])) \(small(64))"
        case 10: return pick(["set sampling example", "set sampling batch", "set tensorboard runs", "set tensorboard /dev/null", "set tensorboard off",
                              "set tensorboard r.png", "pareto tensorboard=runs"])
        case 11: return "schedule \(lr) @\(small(3)):0.01"
        case 12: return "warmup \(small(3)) \(pick(["steps", "epochs"]))"
        case 13, 14: return "train \(rng.integer(below: 6)) \(pick(["steps", "epochs", "steps"]))" + (chance(0.3) ? " --no-val" : "")
        case 15: return "eval \(pick(["val", "test", "train"]))" + (chance(0.3) ? " --sampled" : "") + (chance(0.3) ? " --json" : "")
        case 16: return pick(["sample \(small(8))", "inspect", "inspect --all --json", "arch", "costs --parallel=1,\(small(8))", "summary", "data --json"])
        case 17: return "export \(pick(["arch found.json", "script s.bsn", "arch /dev/full", "arch /nonexistent/x.json"]))"
        case 18: return "render \(pick(["graph", "arch", "history", "masks", "pareto"])) r.png" + (chance(0.3) ? " --width=\(pick(["100", "1", "5000", "0", "nan"]))" : "")
                     + (chance(0.2) ? " --schedule=\(small(4))" : "") + (chance(0.2) ? " n=\(small(6))" : "")
        case 19: return pick(["save s1", "save s2", "open s1", "open s2", "open case", "new s\(small(9))", "sessions", "history 3 --output"])
        case 20: return pick(["render masks m.png split=test n=2", "eval test --json", "sample 3 --json"])
        case 21: return "sweep budget flops \(pick(["100k,200k", "1M", "0,5", "nan", "1e30", "100k..400k:3", "0..1M:3", "1M..2M:1"])) lambda=\(pick(["1e-6", "1e-6,1e-5", "nan", "-1", "1e-7..1e-5:3"]))"
                     + " epochs=\(small(3))" + (chance(0.3) ? " --workers=\(small(3))" : "") + (chance(0.2) ? " seeds=\(pick(["2", "1..2", "1,3", "0", "x"]))" : "")
                     + (chance(0.3) ? " halving=\(pick(["2", "3", "1"]))" + (chance(0.3) ? " rungs=\(small(3))" : "") : "") + (chance(0.1) ? " --plan" : "")
        case 22: return pick(["pareto", "pareto --all --markdown", "pareto params --csv", "pareto --split=test", "sweep baselines cnf W=1,2 epochs=1",
                              "sweep baselines resnet depth=8 epochs=1", "export model m.bsnmodel", "infer r.png", "infer r.png --model=m.bsnmodel",
                              "infer m.bsnmodel", "infer /dev/null", "export onnx m.onnx",
                              "export onnx /dev/full", "export onnx x.onnx --model=m.bsnmodel"])
        default: return "help \(pick(Registry.commands).name)"
        }
    }

    /// One command line.
    mutating func line() -> String {
        if chance(0.5) { return plausible() }
        if chance(0.05) { return pick(Self.junk) + " " + pick(Self.junk) }
        if chance(0.02) { return longToken() }
        // quit would end the script: it comes last, if at all (see script).
        let command = pick(Registry.commands.filter { $0.name != "quit" })
        var words = [chance(0.03) ? command.name.uppercased() : command.name]
        for _ in 0..<rng.integer(below: 5) {
            switch rng.integer(below: 10) {
            case 0, 1, 2:
                let w = command.words.isEmpty ? pick(Self.junk) : pick(command.words)
                words.append(w.hasSuffix("=") ? w + number() : w)
            case 3, 4: words.append(number())
            case 5: words.append(pick(Self.paths))
            case 6: words.append(pick(Self.names))
            case 7: words.append(pick(Self.junk))
            case 8: words.append(pick(["W=", "S=", "C=", "k=", "n=", "train=", "val=", "test=", "size=", "depth=", "seed=", "lambda="]) + number())
            default: words.append(chance(0.1) ? longToken() : pick(["steps", "epochs", "flops", "params", "parallel", "time", "off", "graph", "arch", "history", "masks", "pareto"]))
            }
        }
        // Lengths of training stay short most of the time (a long one is stopped by SIGINT at the deadline).
        if words[0] == "train" || words[0] == "warmup" {
            if chance(0.97) { words = [words[0], String(rng.integer(below: 6)), pick(["steps", "epochs", "steps"])] + words.dropFirst(3) }
        }
        if words[0] == "load" && chance(0.8) {
            // Sizes either small or absurd: a mid-size synthetic set is real work, not a test of the parser.
            let kind = pick(["shapes", "faces", "cifar10", "cifar100", "partlabels", "shape"])
            var w = ["load", kind]
            if kind == "shapes" || kind == "faces" {
                for key in ["train", "val", "test", "size", "seed"] where chance(0.5) {
                    w.append("\(key)=" + (chance(0.7) ? String(rng.integer(below: 40)) : pick(["0", "-1", "99999999999", "10M", "1e30", "nan", "100000000", "512", "15", "513"])))
                }
            } else {
                w.append(pick(Self.paths))
            }
            return w.joined(separator: " ")
        }
        return words.joined(separator: " ")
    }

    /// A script: a prelude, then `count` random lines.
    mutating func script(lines count: Int) -> [String] {
        pick(Self.preludes) + (0..<count).map { _ in line() } + (chance(0.2) ? [pick(["quit", "quit --no-save"])] : [])
    }
}
