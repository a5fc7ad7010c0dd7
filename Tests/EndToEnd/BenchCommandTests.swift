import Benchmarks
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
        // Each measured config at 1 rank, and at 2 ranks with buckets then fused; then the CNF C=128 row the cluster model uses.
        XCTAssertEqual(rows.map { "\($0["config"]!) \($0["ranks"]!)" },
                       ["cnf_c32_b64 1", "cnf_c32_b64 2", "cnf_c32_b64 2", "resnet20_b64 1", "resnet20_b64 2", "resnet20_b64 2", "cnf_c128_b32 1"])
        XCTAssertEqual(rows.map { $0["bucket_bytes"] as? Int == 0 }, [true, false, true, true, false, true, true], "overlapped, then fused")
        // Automatic buckets at 2 ranks: a sixteenth of the gradients, at least 256 kB.
        XCTAssertEqual(rows[1]["bucket_bytes"] as? Int, Int(4.549416e6) / 32 * 2)
        XCTAssertEqual(rows[4]["bucket_bytes"] as? Int, 256_000)
        for row in rows {
            XCTAssertGreaterThan(try XCTUnwrap(row["images_per_s"] as? Double), 0)
            let reduce = try XCTUnwrap(row["allreduce_ms"] as? Double)
            let one = (row["ranks"] as? Int) == 1
            XCTAssertTrue(one ? reduce == 0 : reduce > 0, "\(row)")
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(row["wait_ms"] as? Double), 0)
            // One rank: when backward passed each node, with every gradient byte once, in time order.
            let profile = try XCTUnwrap(row["backward_profile"] as? [[String: Any]])
            XCTAssertEqual(profile.isEmpty, !one)
            if one {
                let bytes = profile.compactMap { $0["bytes"] as? Int }.reduce(0, +), times = profile.compactMap { $0["ms"] as? Double }
                XCTAssertEqual(Double(bytes) / 1e6, try XCTUnwrap(row["gradient_mb"] as? Double), accuracy: 1e-6)
                XCTAssertEqual(times, times.sorted())
                XCTAssertGreaterThan(try XCTUnwrap(row["backward_ms"] as? Double), 0)
                XCTAssertGreaterThan(try XCTUnwrap(row["forward_ms"] as? Double), 0)
            }
        }
        let c128 = try XCTUnwrap(rows.last?["gradient_mb"] as? Double)
        XCTAssertEqual(c128, 4 * 18e6 / 1e6, accuracy: 10, "about 72 MB of gradients per step at C=128")
    }

    /// The step model on a hand-worked example: 4 nodes of 1 MB each, passed
    /// at 50, 100, 150 and 200 ms of a 200 ms backward after a 100 ms forward
    /// and 20 ms of the rest; 2 machines on 1 Gb/s links.
    func testTheStepModelOverlapsBucketsWithBackward() throws {
        let one = ScaleBenchmark.Row(config: "toy", ranks: 1, threads: 1, batch: 64, images_per_s: 200, step_ms: 320, allreduce_ms: 0, gradient_mb: 4,
                                     bucket_bytes: 0, wait_ms: 0, forward_ms: 100, backward_ms: 200,
                                     backward_profile: [50, 100, 150, 200].map { ScaleBenchmark.Passed(ms: $0, bytes: 1_000_000) })
        let link = ScaleBenchmark.Link(name: "1Gb", bitsPerSecond: 1e9, latencySeconds: 0)
        // Fused: 150 ms of compute, then 2·(1/2)·4 MB at 1 Gb/s = 32 ms, then the rest.
        let fused = ScaleBenchmark.model(one, machines: 2, link: link, bucket: 0)
        XCTAssertEqual(fused.step, 150 + 32 + 20, accuracy: 1e-9)
        XCTAssertEqual(fused.exposed, 32, accuracy: 1e-9)
        // Buckets of 1 MB, ready at 75, 100, 125 and 150 ms, 8 ms each: the last ends at 158.
        let overlapped = ScaleBenchmark.model(one, machines: 2, link: link, bucket: 1_000_000)
        XCTAssertEqual(overlapped.exposed, 8, accuracy: 1e-9)
        XCTAssertEqual(overlapped.step, 150 + 8 + 20, accuracy: 1e-9)
        // Buckets of 2 MB, ready at 100 and 150 ms, 16 ms each; 0.1 ms per message adds 2·(N−1) = 2 messages a bucket.
        let slow = ScaleBenchmark.Link(name: "1Gb", bitsPerSecond: 1e9, latencySeconds: 1e-4)
        XCTAssertEqual(ScaleBenchmark.model(one, machines: 2, link: slow, bucket: 2_000_000).exposed, 16.2, accuracy: 1e-9)
        // At 4 machines, a global batch of 128 gives each machine 32 images: the compute of one machine with 64 halves.
        XCTAssertEqual(ScaleBenchmark.model(one, machines: 4, link: link, bucket: 0, batch: 128).compute, 150 + 20, accuracy: 1e-9)
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
