#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small SMTP client (RFC 5321) on a plain socket, for alert emails: run it on a blocking pool.
///
/// One message per connection: greeting, `EHLO` (`HELO` when EHLO is refused), `AUTH PLAIN` or `AUTH LOGIN` when
/// a user name is set (whichever the server offers, PLAIN first), `MAIL FROM`, one `RCPT TO` per recipient, `DATA`
/// with the dot-stuffed message, `QUIT`. Every reply code is checked; every wait (connect, each reply, each write)
/// is bounded by `timeoutSeconds`. Any recipient refused fails the whole message before `DATA` (`RSET`), so nobody
/// gets a partial send that a retry would repeat.
///
/// Not supported: STARTTLS and implicit TLS (port 465). The connection is plain text, AUTH included: use a relay on
/// the same host or a trusted network (e.g. a local Postfix that relays over TLS).
public struct SMTPClient: Sendable {
    /// Where and how to connect.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
        /// The name given in EHLO and HELO; nil: the address literal of our end of the connection (`[192.0.2.1]`,
        /// `[IPv6:2001:db8::1]`), which RFC 5321 allows when a host has no name of its own to give.
        public var clientName: String?
        /// The longest any single wait may take, seconds.
        public var timeoutSeconds: Double = 30

        /// Settings for `host:port`, with AUTH when `username` is set.
        public init(host: String, port: Int, username: String? = nil, password: String? = nil, timeoutSeconds: Double = 30) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// Why a message was not sent; `stage` names the command (or `greeting`, `connect`, `message`) it failed at.
    /// Texts carry the server's words, never the password.
    public enum SMTPError: Error, Equatable, CustomStringConvertible {
        /// The host name does not resolve.
        case resolve(host: String, reason: String)
        /// No address of the host accepted a connection.
        case connect(host: String, port: Int, reason: String)
        /// The server did not answer (or take our bytes) within the timeout.
        case timedOut(stage: String)
        /// The server closed the connection.
        case closed(stage: String)
        /// The server answered with an unexpected code.
        case rejected(stage: String, code: Int, text: String)
        /// The server's reply is not SMTP.
        case malformedReply(stage: String, line: String)
        /// A user name is set but the server offers neither AUTH PLAIN nor AUTH LOGIN.
        case authNotOffered(offered: String)
        /// A socket call failed.
        case io(stage: String, reason: String)

        public var description: String {
            switch self {
            case let .resolve(host, reason): "SMTP: \(host) does not resolve (\(reason))"
            case let .connect(host, port, reason): "SMTP: cannot connect to \(host):\(port) (\(reason))"
            case let .timedOut(stage): "SMTP: no answer within the timeout at \(stage)"
            case let .closed(stage): "SMTP: the server closed the connection at \(stage)"
            case let .rejected(stage, code, text): "SMTP: \(stage) answered \(code) \(text)"
            case let .malformedReply(stage, line): "SMTP: not an SMTP reply at \(stage): \(line.debugDescription)"
            case let .authNotOffered(offered):
                "SMTP: a user name is set but the server offers no AUTH PLAIN or LOGIN (it offers: \(offered.isEmpty ? "no AUTH" : offered))"
            case let .io(stage, reason): "SMTP: \(stage): \(reason)"
            }
        }

        /// Whether a retry cannot help: the server refused with a permanent (5xx) code.
        public var isPermanent: Bool {
            if case let .rejected(_, code, _) = self { return (500..<600).contains(code) }
            return false
        }
    }

    public let configuration: Configuration

    /// A client for `configuration`.
    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Sends `message` (blocking); throws `SMTPError` when it was not accepted.
    public func send(_ message: SMTPMessage) throws(SMTPError) {
        let c = configuration
        let connection = try SMTPConnection.open(host: c.host, port: c.port, timeoutSeconds: c.timeoutSeconds)
        defer { connection.close() }
        try connection.expect(220, stage: "greeting")
        let clientName = c.clientName ?? connection.localAddressLiteral()
        var extensions: [String] = []
        try connection.command("EHLO " + clientName, stage: "EHLO")
        let ehlo = try connection.reply(stage: "EHLO")
        if ehlo.code == 250 {
            extensions = ehlo.lines.dropFirst().map { $0.uppercased() }
        } else if (500..<600).contains(ehlo.code) {
            try connection.command("HELO " + clientName, stage: "HELO")
            try connection.expect(250, stage: "HELO")
        } else {
            throw .rejected(stage: "EHLO", code: ehlo.code, text: ehlo.lines.joined(separator: " / "))
        }
        if let user = c.username {
            try authenticate(connection, user: user, password: c.password ?? "", extensions: extensions)
        }
        try connection.command("MAIL FROM:<\(message.from)>", stage: "MAIL FROM")
        try connection.expect(250, stage: "MAIL FROM")
        for recipient in message.to {
            let stage = "RCPT TO:<\(recipient)>"
            try connection.command(stage, stage: stage)
            let answer = try connection.reply(stage: stage)
            guard answer.code == 250 || answer.code == 251 else {
                // Leave the server clean; the refusal is what matters.
                try? connection.command("RSET", stage: "RSET")
                _ = try? connection.reply(stage: "RSET")
                try? connection.command("QUIT", stage: "QUIT")
                throw .rejected(stage: stage, code: answer.code, text: answer.lines.joined(separator: " / "))
            }
        }
        try connection.command("DATA", stage: "DATA")
        try connection.expect(354, stage: "DATA")
        try connection.write(SMTPMessage.dataPayload(message.rendered), stage: "message")
        try connection.expect(250, stage: "message")
        // The message is accepted; a failing QUIT does not change that.
        try? connection.command("QUIT", stage: "QUIT")
        _ = try? connection.reply(stage: "QUIT")
    }

    func authenticate(_ connection: SMTPConnection, user: String, password: String, extensions: [String]) throws(SMTPError) {
        let mechanisms = extensions.filter { $0.hasPrefix("AUTH ") || $0.hasPrefix("AUTH=") }
            .flatMap { $0.dropFirst(5).split(separator: " ").map(String.init) }
        if mechanisms.contains("PLAIN") {
            let token = Base64.encode([0] + Array(user.utf8) + [0] + Array(password.utf8))
            try connection.command("AUTH PLAIN " + token, stage: "AUTH PLAIN", secret: true)
            try connection.expect(235, stage: "AUTH PLAIN")
        } else if mechanisms.contains("LOGIN") {
            try connection.command("AUTH LOGIN", stage: "AUTH LOGIN")
            try connection.expect(334, stage: "AUTH LOGIN")
            try connection.command(Base64.encode(Array(user.utf8)), stage: "AUTH LOGIN user name", secret: true)
            try connection.expect(334, stage: "AUTH LOGIN user name")
            try connection.command(Base64.encode(Array(password.utf8)), stage: "AUTH LOGIN password", secret: true)
            try connection.expect(235, stage: "AUTH LOGIN password")
        } else {
            throw .authNotOffered(offered: mechanisms.joined(separator: " "))
        }
    }
}

/// One SMTP connection: a non-blocking socket whose every wait is a `poll` bounded by the timeout.
final class SMTPConnection {
    let fd: Int32
    let timeoutMillis: Int32
    private var buffer: [UInt8] = []

    private init(fd: Int32, timeoutMillis: Int32) {
        self.fd = fd
        self.timeoutMillis = timeoutMillis
    }

    /// Connects to the first address of `host` that accepts within the timeout.
    static func open(host: String, port: Int, timeoutSeconds: Double) throws(SMTPError) -> SMTPConnection {
        let timeout = Int32(max(1, min(timeoutSeconds * 1000, Double(Int32.max))))
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw .resolve(host: host, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            guard fd >= 0 else { lastError = errnoText(); continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 {
                guard errno == EINPROGRESS else { lastError = errnoText(); Glibc.close(fd); continue }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = pollRetrying(&p, timeout)
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
                guard ready > 0, soError == 0 else {
                    lastError = ready == 0 ? "timed out" : String(cString: strerror(soError != 0 ? soError : errno))
                    Glibc.close(fd)
                    continue
                }
            }
            return SMTPConnection(fd: fd, timeoutMillis: timeout)
        }
        throw .connect(host: host, port: port, reason: lastError)
    }

    func close() { _ = Glibc.close(fd) }

    /// Our end's address as an RFC 5321 address literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
    func localAddressLiteral() -> String {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let ok = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                getsockname(fd, sa, &len) == 0
                    && getnameinfo(sa, len, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0
            }
        }
        guard ok else { return "[127.0.0.1]" }
        let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return storage.ss_family == sa_family_t(AF_INET6) ? "[IPv6:\(text)]" : "[\(text)]"
    }

    /// Sends one command line (CRLF added). `secret`: the line is a credential (never put in an error text).
    func command(_ line: String, stage: String, secret: Bool = false) throws(SMTPError) {
        try write(Array(line.utf8) + [13, 10], stage: stage)
    }

    func write(_ bytes: [UInt8], stage: String) throws(SMTPError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = pollRetrying(&p, timeoutMillis)
                if ready == 0 { throw .timedOut(stage: stage) }
                if ready < 0 { throw .io(stage: stage, reason: errnoText()) }
                continue
            }
            if errno == EPIPE || errno == ECONNRESET { throw .closed(stage: stage) }
            throw .io(stage: stage, reason: errnoText())
        }
    }

    /// Reads one reply and checks its code is one of `codes`; returns its text lines.
    @discardableResult
    func expect(_ codes: Int..., stage: String) throws(SMTPError) -> [String] {
        let (code, lines) = try reply(stage: stage)
        guard codes.contains(code) else { throw .rejected(stage: stage, code: code, text: lines.joined(separator: " / ")) }
        return lines
    }

    /// Reads one reply, multi-line (`250-...` then `250 ...`) or not: its code and the text of each line.
    func reply(stage: String) throws(SMTPError) -> (code: Int, lines: [String]) {
        var lines: [String] = []
        var code: Int?
        while true {
            let line = try readLine(stage: stage)
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let c = Int(String(decoding: bytes[0..<3], as: UTF8.self)), (200...599).contains(c),
                  bytes.count == 3 || bytes[3] == 32 || bytes[3] == 45 else {
                throw .malformedReply(stage: stage, line: String(line.prefix(200)))
            }
            if let code, code != c { throw .malformedReply(stage: stage, line: String(line.prefix(200))) }
            code = c
            lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
            if bytes.count == 3 || bytes[3] == 32 { return (c, lines) }
        }
    }

    /// One line without its CRLF (or bare LF); at most 4096 bytes.
    func readLine(stage: String) throws(SMTPError) -> String {
        while true {
            if let lf = buffer.firstIndex(of: 10) {
                var line = buffer[..<lf]
                if line.last == 13 { line = line.dropLast() }
                buffer.removeSubrange(...lf)
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count <= 4096 else { throw .malformedReply(stage: stage, line: String(decoding: buffer.prefix(200), as: UTF8.self)) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = pollRetrying(&p, timeoutMillis)
            if ready == 0 { throw .timedOut(stage: stage) }
            if ready < 0 { throw .io(stage: stage, reason: errnoText()) }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { throw .closed(stage: stage) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                if errno == ECONNRESET { throw .closed(stage: stage) }
                throw .io(stage: stage, reason: errnoText())
            }
            buffer += chunk[..<n]
        }
    }
}

/// `poll` on one descriptor, retried on EINTR (with the full timeout again: a signal is rare).
private func pollRetrying(_ p: inout pollfd, _ timeoutMillis: Int32) -> Int32 {
    while true {
        let r = poll(&p, 1, timeoutMillis)
        if r < 0 && errno == EINTR { continue }
        return r
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

typealias SMTPError = SMTPClient.SMTPError
