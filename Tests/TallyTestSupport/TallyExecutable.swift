import Foundation

/// The `tally` executable next to the test bundle (`.build/<config>/tally`).
///
/// The test targets do not depend on the `tally` target: `swift build --build-tests` and `swift test` build every
/// target, the executable included, before any test runs.
public func tallyExecutable() -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return bundle.appendingPathComponent("tally").path
}

/// What a `tally` process said and how it ended.
public struct TallyRun: Sendable {
    public var status: Int32
    public var out: String
    public var err: String
}

/// Runs the `tally` executable with `args` (in `directory`, feeding `stdin`) to its end; stdout and stderr are read
/// at the same time, so a process that writes much to both never blocks on a full pipe.
public func runTally(_ args: [String], stdin: String? = nil, in directory: String? = nil) throws -> TallyRun {
    let p = try ChildProcess(tallyExecutable(), args, directory: directory)
    let errData = ErrData()
    let err = p.stderr!
    let reader = Thread { errData.bytes = err.readDataToEndOfFile(); errData.done.signal() }
    reader.start()
    if let stdin { p.stdin!.write(Data(stdin.utf8)) }
    try p.stdin!.close()
    let o = p.stdout!.readDataToEndOfFile()
    errData.done.wait()
    return TallyRun(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: errData.bytes, as: UTF8.self))
}

/// stderr of a running process, filled by its reader thread before `done` is signalled.
private final class ErrData: @unchecked Sendable {
    var bytes = Data()
    let done = DispatchSemaphore(value: 0)
}
