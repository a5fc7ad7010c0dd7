import Benchmarks
import Foundation
import Layers
import Tensor

// The executable: dispatches to the library modules. The REPL arrives with the
// notebook issue; for now `bsn bench conv` and `bsn info` are the commands.

let usage = """
usage: bsn <command>

  bench conv [--json] [--quick] [--algorithm direct|gemm] [--channels 32,64] [--sizes 32,16]
                                  conv throughput on CNF shapes vs. the sgemm ceiling
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
    var configuration = ConvBenchmark.Configuration()
    var json = false
    var options = rest.dropFirst()
    while let option = options.popFirst() {
        switch option {
        case "--json": json = true
        case "--quick":
            let algorithm = configuration.algorithm
            configuration = .quick
            configuration.algorithm = algorithm
        case "--algorithm":
            guard let name = options.popFirst(), let algorithm = ConvolutionAlgorithm(rawValue: name) else {
                fail("bsn bench conv: --algorithm takes direct or gemm")
            }
            if algorithm == .direct && !ConvolutionAlgorithm.directKernelsAvailable {
                fail("bsn bench conv: the direct kernels need a CPU with AVX2 and FMA")
            }
            configuration.algorithm = algorithm
        case "--channels", "--sizes":
            guard let list = options.popFirst().map({ $0.split(separator: ",").compactMap { Int($0) } }),
                  !list.isEmpty, list.allSatisfy({ $0 > 0 }) else {
                fail("bsn bench conv: \(option) takes a comma-separated list of positive integers, e.g. 32,64")
            }
            if option == "--channels" { configuration.channels = list } else { configuration.sizes = list }
        default: fail("bsn bench conv: unknown option '\(option)'\n\n" + usage)
        }
    }
    let benchmark = ConvBenchmark(configuration)
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
    print("conv algorithm: \(ConvolutionAlgorithm.preferred.summary)")
    print("threads: \(Parallel.threads)")
case "help", "--help", "-h", nil:
    print(usage)
default:
    fail("bsn: unknown command '\(arguments[0])'\n\n" + usage)
}
