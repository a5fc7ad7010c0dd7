import Foundation
import Interface

/// The test hosts `scripts/test-hosts.sh up N rate` made (network namespaces
/// bsnh0…, one rank each), as `bench scale --hosts` runs on them: the script
/// starts mpirun in the first, with `ip netns exec` reaching the others.
struct TestHosts: CustomStringConvertible {
    let count: Int
    /// The script (its `mpirun N …` runs a command on the first N hosts).
    let script: String
    /// The first host's shaping, as `tc` reports it ("tbf … rate 1Gbit …").
    let shaping: String

    /// Finds the script (in ./scripts, or beside the repository this bsn was
    /// built in) and checks that `count` hosts are up with links of `link`'s speed.
    init(count: Int, link: ScaleBenchmark.Link) throws {
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let built = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [here, built.appendingPathComponent("../.."), built.appendingPathComponent("../../..")].map {
            $0.appendingPathComponent("scripts/test-hosts.sh").standardizedFileURL.path
        }
        guard let script = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ShellFailure("bsn bench scale --hosts: needs scripts/test-hosts.sh (run bsn from the repository)")
        }
        let status = try RowRunner.output(URL(fileURLWithPath: script), ["status"], quiet: true).stdout
        let up = status.split(separator: "\n").filter { $0.hasPrefix("bsnh") }
        guard up.count >= count else {
            throw ShellFailure("bsn bench scale --hosts \(count): \(up.count) test hosts are up; make them first: sudo scripts/test-hosts.sh up \(count) \(Self.tcRate(link.bitsPerSecond))")
        }
        let first = up.first { $0.hasPrefix("bsnh0 ") }.map(String.init) ?? String(up[0])
        guard let rate = first.range(of: #"rate [0-9.]+[KMG]?bit"#, options: .regularExpression).map({ String(first[$0].dropFirst(5)) }),
              let bits = ScaleBenchmark.parseLink(rate) else {
            throw ShellFailure("bsn bench scale --hosts: the test hosts' links are not shaped (\(first)); make them with a rate: sudo scripts/test-hosts.sh up \(count) \(Self.tcRate(link.bitsPerSecond))")
        }
        guard abs(bits - link.bitsPerSecond) <= 0.01 * link.bitsPerSecond else {
            throw ShellFailure("bsn bench scale --hosts: the test hosts' links run at \(rate), not --link \(link.name)")
        }
        (self.count, self.script) = (count, script)
        shaping = first.split(separator: " ").dropFirst(2).joined(separator: " ")
    }

    var description: String { "\(count) test hosts (network namespaces, Open MPI over TCP), each link: \(shaping)" }

    /// 1e9 → "1gbit" (tc's words).
    static func tcRate(_ bits: Double) -> String {
        bits >= 1e9 ? String(format: "%ggbit", bits / 1e9) : String(format: "%gmbit", bits / 1e6)
    }
}
