import Foundation
import XCTest

/// Runs the real `bsn` executable, built next to this test bundle.
public struct BinaryRun {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// The path of the `bsn` binary in the build folder holding the test bundle.
public func bsnBinaryPath() throws -> String {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // On Linux the bundle is an executable in the build folder; elsewhere it may be nested.
    for _ in 0..<4 {
        let candidate = folder.appendingPathComponent("bsn").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        folder = folder.deletingLastPathComponent()
    }
    throw XCTSkip("bsn binary not found beside \(CommandLine.arguments[0])")
}

/// Runs `bsn arguments…` with extra environment variables (a nil value removes
/// the variable) and optional standard input; waits for it to exit.
public func runBSN(_ arguments: [String], environment: [String: String?] = [:], input: String? = nil,
                   workingDirectory: String? = nil) throws -> BinaryRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try bsnBinaryPath())
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    let out = Pipe(), err = Pipe(), inp = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inp
    try process.run()
    if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
    try inp.fileHandleForWriting.close()
    // Read both pipes to the end before waiting, so a chatty child never blocks.
    let errData = UncheckedBox<Data>()
    let reader = Thread { errData.value = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while errData.value == nil { usleep(1000) }
    return BinaryRun(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData.value ?? Data(), as: UTF8.self))
}

/// Starts `bsn arguments…` (see `startProgram`).
public func startBSN(_ arguments: [String], environment: [String: String?] = [:], in folder: URL) throws -> Process {
    try startProgram(try bsnBinaryPath(), arguments, environment: environment, in: folder)
}

/// Starts a program in `folder` with extra environment variables (a nil
/// value removes the variable), its output discarded, and returns at once:
/// for tests that kill or interrupt it while it runs.
public func startProgram(_ executable: String, _ arguments: [String], environment: [String: String?] = [:], in folder: URL) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.currentDirectoryURL = folder
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// Runs any program with its output and errors in one stream; waits for it.
/// The status is a shell's: 128 + the signal when a signal ended it.
public func runProgram(_ executable: String, _ arguments: [String], in folder: URL? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let folder { process.currentDirectoryURL = folder }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return (status, String(decoding: data, as: UTF8.self))
}

final class UncheckedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value?
    var value: Value? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
