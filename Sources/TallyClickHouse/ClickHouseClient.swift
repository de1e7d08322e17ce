import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TallyAnalytics

/// ClickHouse's HTTP interface through AsyncHTTPClient: a statement is the POST body (or, for an INSERT, the
/// `query` parameter with the rows as the body); settings are URL parameters.
///
/// Errors come back as a non-200 status with ClickHouse's message as the body (`Code: 60, e.displayText() = ...`),
/// turned into `AnalyticsError.storage`. Statements whose answer is read whole run with `wait_end_of_query=1`, so
/// an error in the middle of a query is a status, not a truncated body.
struct ClickHouseClient: Sendable {
    let client: HTTPClient
    let timeout: TimeAmount

    /// The HTTP client every store uses unless given one. ClickHouse closes a keep-alive connection idle for
    /// `keep_alive_timeout` (3 s by default); a pooled connection kept idle longer can be taken for a statement just
    /// as the server closes it, and the statement fails with "I/O on closed channel" (`tally migrate` did, between
    /// two tenants). This client's pool drops a connection idle for one second, before ClickHouse does.
    static let shared = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                   configuration: HTTPClient.Configuration(connectionPool: .init(idleTimeout: .seconds(1))))

    /// The answer to `sql` on `url`, whole (small answers: aggregates, dedup checks, DDL).
    func execute(_ sql: String, on url: String, settings: [String: String] = [:], body: ByteBuffer? = nil,
                 limit: Int = 256 << 20) async throws -> [UInt8] {
        var settings = settings
        settings["wait_end_of_query"] = "1"
        let response = try await send(sql, on: url, settings: settings, body: body)
        let buffer = try await response.body.collect(upTo: limit)
        let bytes = Array(buffer.readableBytesView)
        guard response.status == .ok else { throw Self.failure(response.status.code, bytes, sql) }
        return bytes
    }

    /// The answer to `sql` on `url` as it arrives, for answers too large to hold (exports); an error after the
    /// first bytes shows as text the caller's parser rejects.
    func stream(_ sql: String, on url: String, settings: [String: String] = [:]) async throws -> HTTPClientResponse.Body {
        let response = try await send(sql, on: url, settings: settings, body: nil)
        guard response.status == .ok else {
            let bytes = Array((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
            throw Self.failure(response.status.code, bytes, sql)
        }
        return response.body
    }

    private func send(_ sql: String, on url: String, settings: [String: String], body: ByteBuffer?) async throws -> HTTPClientResponse {
        var parameters = settings
        var request: HTTPClientRequest
        if let body {
            // An INSERT: the statement in the URL, the rows as the body.
            parameters["query"] = sql
            request = HTTPClientRequest(url: url + "/?" + Self.query(parameters))
            request.body = .bytes(body)
        } else {
            request = HTTPClientRequest(url: url + "/?" + Self.query(parameters))
            request.body = .bytes(ByteBuffer(string: sql))
        }
        request.method = .POST
        do {
            return try await client.execute(request, timeout: timeout)
        } catch let e as HTTPClientError {
            throw AnalyticsError.storage("ClickHouse at \(url) did not answer: \(e)")
        } catch let e as ChannelError {
            throw AnalyticsError.storage("ClickHouse at \(url) did not answer: \(e)")
        }
    }

    static func failure(_ status: UInt, _ body: [UInt8], _ sql: String) -> AnalyticsError {
        let message = String(decoding: body.prefix(2_000), as: UTF8.self).trimmingSpaces
        return .storage("ClickHouse answered \(status): \(message) (statement: \(sql.prefix(300)))")
    }

    /// `key=value&...`, percent-encoded (keys sorted, so URLs are stable in logs).
    static func query(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }.map { "\(percent($0.key))=\(percent($0.value))" }.joined(separator: "&")
    }

    static func percent(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s.removeLast() }
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        return String(s)
    }
}
