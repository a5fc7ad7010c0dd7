import Foundation
import Tensor

/// The everyday-use recipe: what people do with bsn every day that once
/// lost their work, each case a few lines of bash around the binary (a
/// pipe that `head` closes, bytes of a decode cache overwritten with `dd`,
/// links planted in the sessions folder, space files with nested loops,
/// CRLF scripts, words of megabytes). The script checks what must hold and
/// says `FAIL …` for each miss; it exits 1 when any case failed. Every
/// run of bsn is under `timeout`, and an exit status other than 0, 1, 2 (or
/// the one a case expects: 141 for a closed pipe) is a failure. Nothing
/// outside the job's folder is named.
struct EverydayCases {
    enum Kind: String, CaseIterable { case closedPipe, cacheBytes, plantedLink, nestedLoops, crlf, hugeWord }

    var rng: RNG

    init(rng: RNG) { self.rng = rng }

    mutating func pick<T>(_ items: [T]) -> T { items[rng.integer(below: items.count)] }

    /// The script's start: its helpers, the cache in the job's folder.
    static let preamble = """
    #!/bin/bash
    # bsn fuzz, everyday-use cases. $BSN is the binary.
    export BSN_CACHE="$PWD/cache"
    failed=0
    fail() { echo "FAIL $*"; failed=1; }
    # expect WHAT STATUS [ALLOWED…]: 0, 1 and 2 are always allowed (success, a command failed, usage).
    expect() { local what=$1 status=$2; shift 2; for ok in 0 1 2 "$@"; do [ "$status" = "$ok" ] && return 0; done; fail "$what: exit $status"; }
    now() { date +%s%N; }
    # took WHAT START LIMIT-MS: the run since START took at most LIMIT milliseconds.
    took() { local ms=$(( ($(now) - $2) / 1000000 )); [ "$ms" -le "$3" ] || fail "$1: took $ms ms (at most $3)"; }

    """

    /// The script's end: no run said a Swift runtime error.
    static let ending = """
    grep -q "Fatal error\\|runtime failure" err.txt 2>/dev/null && fail "a Swift runtime error: $(grep -m1 "Fatal error\\|runtime failure" err.txt)"
    exit $failed

    """

    /// One case's lines (`i` names its files).
    mutating func makeCase(_ kind: Kind, index i: Int) -> [String] {
        switch kind {
        case .closedPipe: closedPipe(i)
        case .cacheBytes: cacheBytes(i)
        case .plantedLink: plantedLink(i)
        case .nestedLoops: nestedLoops(i)
        case .crlf: crlf(i)
        case .hugeWord: hugeWord(i)
        }
    }

    /// `bsn run … | head -n K` (and the kernel's frames read by `head`): exit
    /// 0 or 141, never a signal; a session that was written opens again.
    private mutating func closedPipe(_ i: Int) -> [String] {
        let keep = 1 + rng.integer(below: 8), steps = 4 + rng.integer(below: 60), named = rng.uniform() < 0.5
        let script = "load shapes train=64 val=16 test=16\\nset batch 16\\nbuild cnf W=2 S=3 C=4\\ntrain \(steps) steps\\neval test\\n"
        if rng.uniform() < 0.3 {
            let request = #"{"id": 1, "execute": "load shapes train=64 val=16 test=16\nset batch 16\nbuild cnf W=2 S=3 C=4\ntrain \#(steps) steps"}"#
            return ["# closed pipe \(i): the kernel's frames, read by head -c",
                    "(printf '%s\\n' '\(request)'; sleep 3) | timeout 60 \"$BSN\" kernel-server --session kpipe\(i) 2>>err.txt | head -c \(200 * keep) >/dev/null",
                    "s=${PIPESTATUS[1]}; expect \"kernel pipe \(i)\" $s 141",
                    "timeout 60 \"$BSN\" --session kpipe\(i) </dev/null >/dev/null 2>>err.txt; expect \"kernel pipe \(i): reopen\" $?"]
        }
        return ["# closed pipe \(i): head -n \(keep)",
                "printf '\(script)' > pipe\(i).bsn",
                "timeout 60 \"$BSN\" run pipe\(i).bsn \(named ? "--session pipe\(i)" : "") 2>>err.txt | head -n \(keep) >/dev/null",
                "s=${PIPESTATUS[0]}; expect \"pipe \(i)\" $s 141",
                "if [ $s = 141 ]; then [ -f sessions/pipe\(i)/session.json ] || fail \"pipe \(i): stopped without a saved session\"; fi",
                "timeout 60 \"$BSN\" --session pipe\(i) </dev/null >/dev/null 2>>err.txt; expect \"pipe \(i): reopen\" $?"]
    }

    /// One byte of a decode cache pack's header, index or padding overwritten:
    /// the load (or the session opening) succeeds, decoding again.
    private mutating func cacheBytes(_ i: Int) -> [String] {
        let fraction = rng.integer(below: 1000), byte = pick([0x2D, 0x20, 0x39, 0x30, 0x0A, 0x09, 0x00, 0xFF, rng.integer(below: 256)])
        let throughSession = rng.uniform() < 0.4
        return ["# cache bytes \(i): byte at \(fraction)/1000 of the pack's head becomes \(byte)",
                "[ -d img ] || printf 'load shapes train=16 val=4 test=4\\nexport images img\\n' | timeout 60 \"$BSN\" run - >/dev/null 2>>err.txt",
                "printf 'load images img size=8\\nsave packs\\n' > pack.bsn",
                "timeout 60 \"$BSN\" run pack.bsn >/dev/null 2>>err.txt; expect \"cache \(i): first load\" $?",
                "p=$(ls cache/*.pack 2>/dev/null | head -1)",
                "if [ -n \"$p\" ]; then",
                "  off=$(head -c 95 \"$p\" | awk '{print $5}'); pos=$(( ${off:-96} * \(fraction) / 1000 ))",
                "  printf \"\\\\x$(printf %02x \(byte))\" | dd of=\"$p\" bs=1 seek=$pos conv=notrunc 2>/dev/null",
                throughSession
                    ? "  echo data | timeout 60 \"$BSN\" --session packs >out.txt 2>>err.txt; s=$?"
                    : "  timeout 60 \"$BSN\" run pack.bsn >out.txt 2>>err.txt; s=$?",
                "  [ $s = 0 ] || fail \"cache \(i): byte $pos → \(byte): exit $s\"",
                "  grep -q 'train 16\\|16 train' out.txt || fail \"cache \(i): byte $pos → \(byte): the images did not load\"",
                "fi"]
    }

    /// A link, a foreign folder, a file or a dangling link planted where a
    /// session would go: `save` and `open` refuse it, and nothing behind it changes.
    private mutating func plantedLink(_ i: Int) -> [String] {
        let plant = pick([
            "mkdir -p elsewhere\(i) && echo keep > elsewhere\(i)/notes.txt && ln -s ../elsewhere\(i) sessions/planted\(i)",
            "mkdir -p sessions/planted\(i) && echo keep > sessions/planted\(i)/notes.txt",
            "echo keep > sessions/planted\(i)",
            "ln -s ../nothing-here\(i) sessions/planted\(i)",
            "echo keep > target\(i).txt && ln -s ../target\(i).txt sessions/planted\(i)",
        ])
        let command = pick(["save planted\(i)", "open planted\(i)", "new planted\(i)"])
        return ["# planted link \(i): \(plant); \(command)",
                "mkdir -p sessions; \(plant)",
                "printf 'load shapes train=32 val=8 test=8\\nbuild cnf W=2 S=3 C=4\\n\(command)\\nsave\\n' | timeout 60 \"$BSN\" run - >/dev/null 2>>err.txt",
                "expect \"planted \(i)\" $?",
                "timeout 60 \"$BSN\" --session planted\(i) </dev/null >/dev/null 2>>err.txt; expect \"planted \(i): open\" $?",
                "planted=$(ls -laR sessions/planted\(i) elsewhere\(i) target\(i).txt 2>/dev/null)",
                "[ -z \"$(find elsewhere\(i) sessions/planted\(i)/ -name '.lock' -o -name 'session.json' 2>/dev/null)\" ] || fail \"planted \(i): written into: $planted\"",
                "cat elsewhere\(i)/notes.txt target\(i).txt sessions/planted\(i)/notes.txt 2>/dev/null | grep -qv keep && fail \"planted \(i): a file behind it changed\""]
    }

    /// A space file of nested loops (counts up to 10⁵, bounds that follow the
    /// outer variable, empty bodies): refused or built within seconds.
    private mutating func nestedLoops(_ i: Int) -> [String] {
        let depth = 2 + rng.integer(below: 3)
        var yaml = ["space: nest\(i)", "params: {C: 4}", "input: x", "body:", "  - node: a0", "    from: x", "    op: conv k=3 relu", "    out: C"]
        var indent = "  "
        for level in 0..<depth {
            let variable = "v\(level)"
            let bound = pick(["0..9", "0..999", "0..99999", "1..100000", level > 0 ? "0..v\(level - 1)" : "0..50", "5..1"])
            yaml.append("\(indent)- for: \(variable) in \(bound)")
            if level == depth - 1 {
                yaml.append("\(indent)  do: " + (rng.uniform() < 0.5 ? "[]" : "[{let: {z: \(variable) * 2}}]"))
            } else {
                yaml.append("\(indent)  do:")
            }
            indent += "    "
        }
        yaml.append("output: {from: a0, head: classify}")
        let text = yaml.joined(separator: "\n").replacingOccurrences(of: "'", with: "'\\''")
        return ["# nested loops \(i): depth \(depth)",
                "printf '%s\\n' '\(text)' > nest\(i).yaml",
                "t=$(now); printf 'load shapes train=32 val=8 test=8\\nbuild space nest\(i).yaml\\n' | timeout 20 \"$BSN\" run - >/dev/null 2>>err.txt",
                "expect \"nested \(i)\" $?; took \"nested \(i)\" $t 5000"]
    }

    /// A script and a kernel cell with CRLF line ends: each line is a line.
    private mutating func crlf(_ i: Int) -> [String] {
        let test = 8 + rng.integer(below: 40)
        let lines = ["load shapes train=32 val=8 test=\(test)", "build cnf W=2 S=3 C=4", "set lr 0.05", "data"]
        let ending = pick(["\\r\\n", "\\r\\n", "\\r"])
        return ["# CRLF \(i)",
                "printf '\(lines.joined(separator: ending))\(ending)' > crlf\(i).bsn",
                "timeout 60 \"$BSN\" run crlf\(i).bsn >out.txt 2>>err.txt; s=$?",
                "[ $s = 0 ] || fail \"crlf \(i): exit $s\"; grep -q 'test \(test)' out.txt || fail \"crlf \(i): the lines were not read as lines\"",
                "printf '%s\\r\\n' '{\"id\": 4, \"execute\": \"\(lines.joined(separator: "\\r\\n"))\"}' | timeout 60 \"$BSN\" kernel-server >k.txt 2>>err.txt",
                "expect \"crlf \(i): kernel\" $?; grep -q '\"ok\":true' k.txt || fail \"crlf \(i): the kernel cell failed\""]
    }

    /// A word of up to 10 MB as a command, an option, a name or a value; in a
    /// script and through the kernel: answered within seconds, the error with its id.
    private mutating func hugeWord(_ i: Int) -> [String] {
        let length = pick([65, 1000, 100_000, 1_000_000, 10_000_000]), letter = pick(["x", "a", "é", "-", "1"])
        let before = pick(["", "help ", "set lr ", "load ", "open ", "build ", "save ", "train ", "set ", "budget flops "])
        let word = "head -c \(length) /dev/zero | tr '\\0' '\(letter == "é" ? "e" : letter)'"
        return ["# huge word \(i): \(before.isEmpty ? "as the command" : "after '\(before)'"), \(length) bytes",
                "{ printf '%s' '\(before)'; \(word); printf '\\n'; } > huge\(i).bsn",
                "t=$(now); timeout 30 \"$BSN\" run huge\(i).bsn >/dev/null 2>err\(i).txt; expect \"huge \(i)\" $?; took \"huge \(i)\" $t 10000",
                "[ $(wc -c < err\(i).txt) -lt 100000 ] || fail \"huge \(i): the word was repeated back\"; cat err\(i).txt >> err.txt",
                "t=$(now); { printf '{\"id\": 9, \"execute\": \"%s' '\(before)'; \(word); printf '\"}\\n'; } | timeout 30 \"$BSN\" kernel-server >k\(i).txt 2>>err.txt",
                "expect \"huge \(i): kernel\" $?; took \"huge \(i): kernel\" $t 10000",
                "grep -q '\"event\":\"done\",\"id\":9\\|\"id\":9' k\(i).txt || fail \"huge \(i): the kernel did not answer request 9\""]
    }
}
