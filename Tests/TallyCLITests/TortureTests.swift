import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// A few rounds of `Torture/torture.sh` in `make test`: one store, a writer killed with SIGKILL again and again
/// (while it seals, merges and trims its WAL in the background), each restart resending its last batches; after
/// every kill `_crash-writer --check` compares the store with the acknowledgements kept here.
@Suite struct TortureTests {
    /// Runs `tally` with `arguments`; returns its exit status and standard output.
    static func run(_ arguments: [String], killAfterAcks: Int? = nil) throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        let child = try ChildProcess(tallyExecutable(), arguments, environment: env, stdin: .null)
        let out = child.stdout!, err = child.stderr!
        var text = ""
        if let n = killAfterAcks {
            while text.split(separator: "\n").count < n {
                let data = out.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            kill(child.processIdentifier, SIGKILL)
        }
        text += String(decoding: out.readDataToEndOfFile(), as: UTF8.self)
        text += String(decoding: err.readDataToEndOfFile(), as: UTF8.self)
        return (child.terminationStatus, text)
    }

    @Test("a writer killed 4 times, resending its last batches on each restart, loses and doubles nothing",
          arguments: [(UInt64(11), "fsync", [9, 23, 4, 31]), (UInt64(12), "buffered", [17, 2, 40, 12])])
    func repeatedKills(seed: UInt64, durability: String, kills: [Int]) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let common = ["_crash-writer", "--data", dir.path, "--seed", String(seed), "--batches", "300", "--batch-rows", "200"]
        var acks = ""
        var next = 0
        for after in kills {
            let writer = try Self.run(common + ["--seal-rows", "800", "--durability", durability, "--start", String(next), "--resend", "3"],
                                      killAfterAcks: after)
            let lines = writer.output.split(separator: "\n").filter { $0.hasPrefix("ack ") }
            #expect(lines.count >= after, "the writer stopped early: \(writer.output.suffix(300))")
            #expect(lines.count < 300, "the writer finished before it was killed")
            acks += lines.joined(separator: "\n") + "\n"
            next = (lines.compactMap { Int($0.dropFirst(4)) }.max() ?? next - 1) + 1
            let log = dir.path + ".acks"
            try FileIO.writeAtomically(Array(acks.utf8), to: log, directory: "/tmp")
            defer { unlink(log) }
            let check = try Self.run(common + ["--check", "--acked", log])
            #expect(check.status == 0, "\(check.output)")
        }
        let verify = try Self.run(["verify", "--data", dir.path])
        #expect(verify.status == 0, "\(verify.output)")
    }
}
