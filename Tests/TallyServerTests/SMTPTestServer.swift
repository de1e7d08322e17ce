import Foundation
import TallyTestSupport
import Testing
import Synchronization

/// A real SMTP server for the tests: `Tests/Support/smtp_server.py` (Python's aiosmtpd, from Tests/requirements.txt)
/// on 127.0.0.1, writing each message it receives, parsed by Python's email package, to a fresh directory.
final class SMTPTestServer: @unchecked Sendable {
    /// One message as Python's email package read it.
    struct Received: Sendable {
        var mailFrom: String
        /// The name the client gave in EHLO or HELO.
        var helo: String
        var rcptTos: [String]
        var raw: String
        var headers: [String: String]
        var headerCount: [String: Int]
        var contentType: String
        var charset: String?
        var transferEncoding: String?
        var body: String
        var defects: [String]
    }

    let port: Int
    let directory: String
    private let process: ChildProcess

    /// Why the server did not come up, with the script's error output.
    struct DidNotStart: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts the server off the cooperative pool (Python takes a second or more to come up, and the pool has one
    /// thread per core): `--mode`, `--reject-rcpt`, `--auth` as the script takes them. Throws `DidNotStart` with the
    /// script's error output when it does not come up (e.g. aiosmtpd not installed: `make test` installs it).
    static func start(_ arguments: [String] = []) async throws -> SMTPTestServer {
        try await offThePool { try SMTPTestServer(arguments) }
    }

    private init(_ arguments: [String]) throws {
        directory = NSTemporaryDirectory() + "tally-smtp-" + UUID().uuidString
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/smtp_server.py").path
        process = try ChildProcess("/usr/bin/env", ["python3", script, directory] + arguments)
        var line: [UInt8] = []
        let handle = process.stdout!
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte.first == 10 { break }
            line.append(byte.first!)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY "), let port = Int(text.dropFirst(6)) else {
            process.terminate()
            let why = String(decoding: process.stderr!.readDataToEndOfFile(), as: UTF8.self)
            throw DidNotStart(description: "the test SMTP server did not start (python3 -m pip install -r Tests/requirements.txt): \(why)")
        }
        self.port = port
    }

    deinit { stop() }

    /// Stops the server (closing its stdin ends it; terminate in case it hangs) and removes the messages it kept.
    func stop() {
        try? process.stdin?.close()
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The messages received so far, in order.
    func messages() throws -> [Received] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".json") }
            .sorted { Int($0.dropLast(5))! < Int($1.dropLast(5))! }
        return try names.map { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
            let o = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            return Received(
                mailFrom: o["mail_from"] as? String ?? "", helo: o["helo"] as? String ?? "", rcptTos: o["rcpt_tos"] as? [String] ?? [], raw: o["raw"] as? String ?? "",
                headers: o["headers"] as? [String: String] ?? [:], headerCount: o["header_count"] as? [String: Int] ?? [:],
                contentType: o["content_type"] as? String ?? "", charset: o["charset"] as? String,
                transferEncoding: o["transfer_encoding"] as? String, body: o["body"] as? String ?? "",
                defects: o["defects"] as? [String] ?? [])
        }
    }
}

/// Runs blocking work (a socket conversation, a child process starting) on a Dispatch thread, off the cooperative
/// pool, whose few threads the rest of the suite needs.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
