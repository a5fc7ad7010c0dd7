import Benchmarks
import Foundation
import Tensor

// The executable: dispatches to the library modules. The REPL arrives with the
// notebook issue; for now `bsn bench conv` and `bsn info` are the commands.

let usage = """
usage: bsn <command>

  bench conv [--json] [--quick]   conv throughput on CNF shapes vs. the sgemm ceiling
  info                            version, OpenBLAS core and threads
  help                            this text
"""

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "bench":
    let rest = Array(arguments.dropFirst())
    guard rest.first == "conv" else { fail("bsn bench: unknown benchmark '\(rest.first ?? "")' (available: conv)\n\n" + usage) }
    let flags = Set(rest.dropFirst())
    if let unknown = flags.subtracting(["--json", "--quick"]).first { fail("bsn bench conv: unknown option '\(unknown)'") }
    let json = flags.contains("--json")
    let benchmark = ConvBenchmark(flags.contains("--quick") ? .quick : .init())
    do {
        let report = try benchmark.run { step in
            if !json { FileHandle.standardError.write(Data("  \(step)…\n".utf8)) }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
    } catch {
        fail("bsn bench conv: \(error)")
    }
case "info":
    print("bsn 0.1")
    print("OpenBLAS core: \(BLAS.coreName)" + (BLAS.coreSwitchedFrom.map { " (selected by bsn; OpenBLAS detected \($0))" } ?? ""))
    print("threads: \(Parallel.threads)")
case "help", "--help", "-h", nil:
    print(usage)
default:
    fail("bsn: unknown command '\(arguments[0])'\n\n" + usage)
}
