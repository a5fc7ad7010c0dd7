import Foundation
import TestSupport
import XCTest

extension ProcessInfo {
    /// /proc/cpuinfo lists avx512f (the OS saves ZMM state where the kernel reports it).
    var cpuHasAVX512: Bool { ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").contains(" avx512f") }
}

/// Drives the real `bsn` binary.
final class BenchCommandTests: XCTestCase {
    func testBenchConvJSONHasTheDocumentedFields() throws {
        let run = try runBSN(["bench", "conv", "--quick", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let ceiling = try XCTUnwrap(report["sgemm_gflops"] as? Double)
        XCTAssertGreaterThan(ceiling, 1)
        // The FMA peak of the widest vectors, beside it.
        let fma = try XCTUnwrap(report["fma_peak"] as? [String: Any]), peak = try XCTUnwrap(fma["gflops"] as? Double)
        let widths = try XCTUnwrap(fma["by_width"] as? [String: Double])
        XCTAssertEqual(peak, widths.values.max())
        XCTAssertEqual(fma["bits"] as? Int, widths.max { $0.value < $1.value }.flatMap { Int($0.key) })
        XCTAssertTrue(widths.keys.contains("256"), "every CPU bsn runs its kernels on has AVX2 and FMA")
        XCTAssertEqual(widths.keys.contains("512"), ProcessInfo.processInfo.cpuHasAVX512, "\(widths)")
        XCTAssertFalse((report["blas_core"] as? String ?? "").isEmpty)
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertFalse(rows.isEmpty)
        for row in rows {
            for key in ["channels", "size", "stride", "op", "ms", "gflops", "ratio_to_sgemm"] {
                XCTAssertNotNil(row[key], "row lacks \(key)")
            }
            let gflops = try XCTUnwrap(row["gflops"] as? Double), ratio = try XCTUnwrap(row["ratio_to_sgemm"] as? Double)
            XCTAssertEqual(ratio, gflops / ceiling, accuracy: 1e-9)
            XCTAssertEqual(try XCTUnwrap(row["ratio_to_peak"] as? Double), gflops / peak, accuracy: 1e-9)
            XCTAssertTrue(["forward", "forward+backward"].contains(row["op"] as? String))
        }
        XCTAssertEqual(Set(rows.compactMap { $0["kind"] as? String }), ["same", "down", "up"])
    }

    func testBenchScaleMeasuresOneAndTwoRanksUnderMPIRun() throws {
        let run = try runBSN(["bench", "scale", "--steps", "1", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(report["sgemm_gflops_1_thread"] as? Double), 1)
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        // Each measured config at 1 and 2 ranks, then the CNF C=128 row the cluster estimate uses.
        XCTAssertEqual(rows.map { "\($0["config"]!) \($0["ranks"]!)" },
                       ["cnf_c32_b64 1", "cnf_c32_b64 2", "resnet20_b64 1", "resnet20_b64 2", "cnf_c128_b32 1"])
        for row in rows {
            XCTAssertGreaterThan(try XCTUnwrap(row["images_per_s"] as? Double), 0)
            let reduce = try XCTUnwrap(row["allreduce_ms"] as? Double)
            XCTAssertTrue((row["ranks"] as? Int) == 1 ? reduce == 0 : reduce > 0, "\(row)")
        }
        let c128 = try XCTUnwrap(rows.last?["gradient_mb"] as? Double)
        XCTAssertEqual(c128, 4 * 18e6 / 1e6, accuracy: 10, "about 72 MB of gradients per step at C=128")
    }

    func testBenchConvTablePrintsTheConfiguration() throws {
        let run = try runBSN(["bench", "conv", "--quick"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("sgemm ceiling:"), run.stdout)
        XCTAssertTrue(run.stdout.contains("FMA peak"), run.stdout)
        XCTAssertTrue(run.stdout.contains("of peak"), run.stdout)
        XCTAssertTrue(run.stdout.contains("OpenBLAS core"), run.stdout)
        XCTAssertTrue(run.stdout.contains("threads"), run.stdout)
    }

    func testBenchDataMeasuresTheLoaderWithAndWithoutPrefetchAndAFolderOfJPEGs() throws {
        let run = try runBSN(["bench", "data", "--quick", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let output = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(output["sgemm_gflops"] as? Double), 1)
        let report = try XCTUnwrap(output["report"] as? [String: Any])
        XCTAssertEqual(report["cifar_images"] as? Int, 6000)
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 8)
        XCTAssertEqual(Set(rows.compactMap { $0["data"] as? String }), ["cifar", "partlabels"])
        XCTAssertEqual(Set(rows.compactMap { $0["prefetch"] as? Bool }), [true, false])
        for row in rows { XCTAssertGreaterThan(row["images_per_s"] as? Double ?? 0, 0) }
        // The load images row: 1000 JPEG files decoded on one thread and on every core, then reloaded from the cache.
        XCTAssertFalse((output["cpu"] as? String ?? "").isEmpty)
        let folder = try XCTUnwrap(report["folder"] as? [String: Any])
        XCTAssertEqual(folder["files"] as? Int, 1000)
        XCTAssertEqual(folder["size"] as? Int, 64)
        for key in ["decode_1_thread_images_per_s", "decode_all_threads_images_per_s", "decode_speedup", "cached_first_load_s", "cached_reload_s"] {
            XCTAssertGreaterThan(folder[key] as? Double ?? 0, 0, key)
        }
        XCTAssertLessThan(folder["reload_fraction"] as? Double ?? 1, 1, "a reload from the cache decodes nothing")
    }

    func testUnknownCommandsFailWithUsage() throws {
        let run = try runBSN(["bnech"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("unknown command 'bnech'"), run.stderr)
        let bench = try runBSN(["bench", "conv", "--jsno"])
        XCTAssertEqual(bench.status, 2)
        XCTAssertTrue(bench.stderr.contains("Unknown option '--jsno'. Did you mean '--json'?"), bench.stderr)
        XCTAssertTrue(bench.stderr.contains("Usage: bsn bench conv [--json]"), bench.stderr)
        let algorithm = try runBSN(["bench", "conv", "--algorithm", "direkt"])
        XCTAssertEqual(algorithm.status, 2)
        XCTAssertTrue(algorithm.stderr.contains("--algorithm takes one of gemm, direct, direct512, direct256, winograd512, winograd256, dense512, dense256, did you mean 'direct'?"), algorithm.stderr)
        let seconds = try runBSN(["bench", "conv", "--seconds", "0"])
        XCTAssertEqual(seconds.status, 2)
        XCTAssertTrue(seconds.stderr.contains("--seconds takes a number of seconds above 0"), seconds.stderr)
        let set = try runBSN(["run", "x.bsn", "--set", "novalue"])
        XCTAssertEqual(set.status, 2)
        XCTAssertTrue(set.stderr.contains("--set takes NAME=VALUE"), set.stderr)
    }

    func testTheShellCommandsHaveHelpAndCompletionScripts() throws {
        for command in [["--help"], ["bench", "--help"], ["bench", "conv", "--help"], ["infer", "--help"], ["run", "--help"], ["help", "bench", "train"]] {
            let run = try runBSN(command)
            XCTAssertEqual(run.status, 0, "\(command): \(run.stderr)")
            XCTAssertTrue(run.stdout.contains("USAGE: bsn"), "\(command): \(run.stdout)")
        }
        XCTAssertTrue(try runBSN(["bench", "conv", "--help"]).stdout.contains("--algorithm <gemm|direct|direct512|direct256|winograd512|winograd256|dense512|dense256>"))
        for shell in ["bash", "zsh", "fish"] {
            let script = try runBSN(["--generate-completion-script", shell])
            XCTAssertEqual(script.status, 0, shell)
            XCTAssertTrue(script.stdout.contains("bench") && script.stdout.contains("export-onnx") && script.stdout.contains("keep-going"), shell)
        }
    }
}

/// The start-up hook that picks fast OpenBLAS kernels (CBLASCore/blas_core.c).
final class BLASCoreSelectionTests: XCTestCase {
    private func core(_ environment: [String: String?]) throws -> String {
        let run = try runBSN(["info"], environment: environment)
        XCTAssertEqual(run.status, 0, run.stderr)
        let line = try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("OpenBLAS core: ") })
        return String(line.dropFirst("OpenBLAS core: ".count))
    }

    func testAWeakDetectedCoreIsReplacedByReexecution() throws {
        // Pretend OpenBLAS fell back to Prescott, as it does on CPUs it does not know.
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard cpuinfo.contains(" avx2") && cpuinfo.contains(" fma") else { throw XCTSkip("CPU without AVX2: nothing to switch to") }
        let selected = try core(["OPENBLAS_CORETYPE": nil, "BSN_BLAS_PRETEND_DETECTED": "Prescott"])
        XCTAssertTrue(selected.hasPrefix("Haswell") || selected.hasPrefix("SkylakeX"), selected)
        XCTAssertTrue(selected.contains("detected Prescott"), selected)
    }

    func testAValueTheUserSetIsNeverOverridden() throws {
        XCTAssertEqual(try core(["OPENBLAS_CORETYPE": "Prescott", "BSN_BLAS_PRETEND_DETECTED": "Prescott"]), "Prescott")
    }
}
