import Foundation
@testable import TallyServer
import Testing

/// The SMTP client against a real SMTP server (aiosmtpd on loopback): what it sends is checked as Python's email
/// package parses it; every failure is a typed error naming the stage. Sends run off the cooperative pool, as the
/// deliverer runs them on the blocking pool.
@Suite("SMTP client against aiosmtpd")
struct SMTPClientTests {
    static let body = """
        Severity:  HIGH — café crème
        .a line starting with a dot
        ..and one with two
        .
        A long line: \(String(repeating: "0123456789", count: 12)) end
        trailing spaces   
        tab\tinside and an equals sign = here
        """

    static func message(to: [String] = ["ops@example.com", "finance@example.com"],
                        subject: String = "[Tally HIGH] ABSOLUTE_SPIKE on tenant acme") -> SMTPMessage {
        SMTPMessage(from: "alerts@tally.example", to: to, subject: subject, body: body, date: 1_796_553_984_000,
                    messageID: "alr_0123456789abcdef@tally")
    }

    /// Sends `message` with `configuration` on a Dispatch thread; the typed error when it was not accepted.
    static func send(_ configuration: SMTPClient.Configuration, _ message: SMTPMessage = message()) async throws -> SMTPClient.SMTPError? {
        try await offThePool { () -> SMTPClient.SMTPError? in
            do {
                try SMTPClient(configuration).send(message)
                return nil
            } catch let error as SMTPClient.SMTPError {
                return error
            }
        }
    }

    @Test("a message to two recipients with AUTH: envelope, RFC 5322 headers, UTF-8 subject and quoted-printable body as sent")
    func sendsWithAuth() async throws {
        let server = try await SMTPTestServer.start(["--auth", "tally:s3cret pass"])
        defer { server.stop() }
        let subject = "[Tally HIGH] ABSOLUTE_SPIKE on feature café-ü of tenant acme: $1,234.56 against $100.00 expected"
        let error = try await Self.send(.init(host: "127.0.0.1", port: server.port, username: "tally", password: "s3cret pass",
                                              timeoutSeconds: 10), Self.message(subject: subject))
        #expect(error == nil)
        let received = try server.messages()
        try #require(received.count == 1)
        let m = received[0]
        #expect(m.mailFrom == "alerts@tally.example")
        #expect(m.helo == "[127.0.0.1]")
        #expect(m.rcptTos == ["ops@example.com", "finance@example.com"])
        #expect(m.headers["Subject"] == subject)
        #expect(m.headers["From"] == "alerts@tally.example")
        #expect(m.headers["To"] == "ops@example.com, finance@example.com")
        #expect(m.headers["Date"] == "Sun, 06 Dec 2026 10:46:24 +0000")
        #expect(m.headers["Message-ID"] == "<alr_0123456789abcdef@tally>")
        #expect(m.headers["MIME-Version"] == "1.0")
        #expect(m.contentType == "text/plain")
        #expect(m.charset == "utf-8")
        #expect(m.transferEncoding == "quoted-printable")
        for name in ["Date", "Message-ID", "From", "To", "Subject", "MIME-Version", "Content-Type"] {
            #expect(m.headerCount[name] == 1, "one \(name) header")
        }
        #expect(m.defects.isEmpty)
        #expect(m.body == Self.body.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n" || m.body == Self.body + "\n")
        // On the wire: CRLF line ends only, no line over 78 characters.
        for line in m.raw.components(separatedBy: "\r\n") {
            #expect(!line.contains("\n") && !line.contains("\r"))
            #expect(line.utf8.count <= 78, "line too long: \(line)")
        }
    }

    @Test("dot-stuffing: lines starting with a dot (and a lone dot) arrive as written")
    func dotStuffing() async throws {
        let stuffed = SMTPMessage.dataPayload(Array("a\r\n.b\r\n.\r\n..c\r\n".utf8))
        #expect(String(decoding: stuffed, as: UTF8.self) == "a\r\n..b\r\n..\r\n...c\r\n.\r\n")
        let server = try await SMTPTestServer.start()
        defer { server.stop() }
        #expect(try await Self.send(.init(host: "127.0.0.1", port: server.port, timeoutSeconds: 10), Self.message(to: ["ops@example.com"])) == nil)
        let m = try #require(try server.messages().first)
        #expect(m.body.contains("\n.a line starting with a dot"))
        #expect(m.body.contains("\n..and one with two"))
        #expect(m.body.contains("\n.\n") || m.body.contains("\r\n.\r\n"))
    }

    @Test("a refused recipient fails the whole message before DATA, with the server's code and words; nothing is delivered")
    func rejectedRecipient() async throws {
        let server = try await SMTPTestServer.start(["--reject-rcpt", "nobody@example.com"])
        defer { server.stop() }
        let error = try #require(try await Self.send(.init(host: "127.0.0.1", port: server.port, timeoutSeconds: 10),
                                                     Self.message(to: ["ops@example.com", "nobody@example.com"])))
        guard case let .rejected(stage, code, text) = error else { Issue.record("not a refusal: \(error)"); return }
        #expect(stage == "RCPT TO:<nobody@example.com>" && code == 550 && text.contains("no such user"))
        #expect(error.isPermanent)
        #expect(try server.messages().isEmpty)
    }

    @Test("a wrong password is refused at AUTH (535, permanent); no user name on a server requiring AUTH is refused at MAIL FROM")
    func authFailures() async throws {
        let server = try await SMTPTestServer.start(["--auth", "tally:right"])
        defer { server.stop() }
        let wrong = try #require(try await Self.send(.init(host: "127.0.0.1", port: server.port, username: "tally", password: "wrong",
                                                           timeoutSeconds: 10)))
        guard case let .rejected(stage, code, _) = wrong else { Issue.record("not a refusal: \(wrong)"); return }
        #expect(stage == "AUTH PLAIN" && code == 535 && wrong.isPermanent)
        #expect(!"\(wrong)".contains("wrong"))
        let anonymous = try #require(try await Self.send(.init(host: "127.0.0.1", port: server.port, timeoutSeconds: 10)))
        guard case let .rejected(stage2, code2, _) = anonymous else { Issue.record("not a refusal: \(anonymous)"); return }
        #expect(stage2 == "MAIL FROM" && code2 == 530)
        #expect(try server.messages().isEmpty)
    }

    @Test("a server that closes the connection, one that never answers, a port nobody listens on, a name that does not resolve: typed errors")
    func connectionFailures() async throws {
        let closing = try await SMTPTestServer.start(["--mode", "close"])
        defer { closing.stop() }
        #expect(try await Self.send(.init(host: "127.0.0.1", port: closing.port, timeoutSeconds: 10)) == .closed(stage: "EHLO"))
        let silent = try await SMTPTestServer.start(["--mode", "silent"])
        defer { silent.stop() }
        let start = Date()
        #expect(try await Self.send(.init(host: "127.0.0.1", port: silent.port, timeoutSeconds: 0.5)) == .timedOut(stage: "greeting"))
        #expect(Date().timeIntervalSince(start) < 5)
        // A port just released: nothing listens there.
        let port = closing.port
        closing.stop()
        let refused = try await Self.send(.init(host: "127.0.0.1", port: port, timeoutSeconds: 2))
        guard case .connect(_, port, _)? = refused else { Issue.record("not a connection failure: \(String(describing: refused))"); return }
        let unresolved = try await Self.send(.init(host: "no-such-host.invalid", port: 25, timeoutSeconds: 2))
        guard case .resolve? = unresolved else { Issue.record("not a resolution failure: \(String(describing: unresolved))"); return }
    }
}
