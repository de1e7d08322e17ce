import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import TallyServer
import Testing

/// The refused-key log line is rate-limited on the services' injected clock, so time can be pinned for it too.
@Suite struct AuthThrottleTests {
    @Test("refused keys: one log line, none within 10 s of it, the next after (on pinned monotonic time)")
    func throttleFollowsTheInjectedClock() async throws {
        let f = try ServerFixture(seed: false)
        f.clock.pinMonotonic(1_000)
        let logs = CapturedLogs()
        let app = Application(router: f.server.router(), logger: Logger(label: "auth-test") { _ in logs })
        try await app.test(.router) { client in
            func refuse() async throws {
                let r = try await client.execute(uri: usagePath, method: .get, headers: auth("tly_not_a_key"))
                #expect(r.status == .unauthorized)
            }
            try await refuse()
            f.clock.advanceMonotonic(9)
            try await refuse()
            try await refuse()
            f.clock.advanceMonotonic(2)
            try await refuse()
        }
        #expect(logs.counts(of: "API key refused", key: "failures_since_last_report") == ["1", "3"])
    }
}

/// A log handler that keeps every line's message and metadata.
///
/// A class, so every copy of the logger writes to the same lines (`LogHandler` setters need `nonmutating` storage,
/// hence the Mutexes).
final class CapturedLogs: LogHandler, Sendable {
    private let lines = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
    private let shared = Mutex<Logger.Metadata>([:])

    var metadata: Logger.Metadata {
        get { shared.withLock { $0 } }
        set { shared.withLock { $0 = newValue } }
    }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.withLock { $0.append((event.message.description, all)) }
    }

    /// The values of metadata `key` on the lines whose message is `message`.
    func counts(of message: String, key: String) -> [String] {
        lines.withLock { $0.filter { $0.message == message }.compactMap { $0.metadata[key]?.description } }
    }
}
