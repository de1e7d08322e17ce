import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import TallyAnalytics
import TallyStore

/// What `tally serve` needs to proxy provider calls: the upstreams, the HTTP client that reaches them, and the
/// recorder that turns each answer's usage into a cost record.
public struct ProxySetup: Sendable {
    /// The base URL of each configured upstream (`https://api.openai.com`), without a trailing slash.
    public var upstreams: [ProviderKind: String]
    /// Stores the records (spooling them when the store fails).
    public var recorder: ProxyRecorder
    /// The client calls go out on (no redirects followed, no decompression: bytes pass as they come).
    public var client: HTTPClient
    /// Seconds a whole upstream call (streamed answer included) may take.
    public var timeoutSeconds: Double

    /// A setup; `upstreams` as `tally serve --proxy-upstream KIND=URL` gives them.
    public init(upstreams: [ProviderKind: String], recorder: ProxyRecorder, client: HTTPClient, timeoutSeconds: Double = 600) {
        self.upstreams = upstreams.mapValues { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.recorder = recorder
        self.client = client
        self.timeoutSeconds = timeoutSeconds
    }

    /// Shuts the client down (after the server stopped).
    public func shutdown() async throws { try await client.shutdown() }

    /// An HTTP client fit for the proxy: redirects passed to the caller, bodies not decompressed; an upstream that
    /// takes no connection within `connectTimeoutSeconds` is a 502.
    public static func makeClient(connectTimeoutSeconds: Double = 10) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        configuration.timeout.connect = .milliseconds(Int64(connectTimeoutSeconds * 1000))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}

/// The provider proxy: `/proxy/openai/...` and `/proxy/anthropic/...` forward a call to the configured upstream with
/// the caller's own provider key, stream the answer back as it comes, and write a cost record from the usage the
/// answer reports. Attribution comes from `X-Tally-*` headers (Helicone's style), which stay here: the upstream never
/// sees them. Nothing of a prompt, a completion or a provider key is logged or stored.
struct ProxyRoutes: Sendable {
    typealias Context = APIRequestContext
    let analytics: Analytics
    let metrics: ServerMetrics
    let setup: ProxySetup?
    let maxBodyBytes: Int

    static let methods: [HTTPRequest.Method] = [.get, .post, .delete]

    func addRoutes(to router: Router<Context>) {
        for kind in ProviderKind.allCases {
            for method in Self.methods {
                router.on(RouterPath("proxy/\(kind.rawValue)/**"), method: method) { request, context in
                    try await forward(request, context: context, kind: kind)
                }
            }
        }
    }

    /// The attribution headers and the record field each sets.
    static let attributionHeaders: [(header: String, field: String)] = [
        ("X-Tally-Project", "project_id"), ("X-Tally-Environment", "environment"), ("X-Tally-User", "user_id"),
        ("X-Tally-Feature", "feature_tag"), ("X-Tally-Workflow", "workflow_id"), ("X-Tally-Skill", "skill_id"),
    ]

    /// Headers that describe one connection, not the call (RFC 9110 section 7.6.1), and those the client library sets
    /// again: never passed on in either direction.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length",
    ]

    func forward(_ request: Request, context: Context, kind: ProviderKind) async throws -> Response {
        let principal = try await authenticate(request, context: context)
        try AccessPolicy.check(.writeRecords, principal)
        let tenant: String
        if let own = principal.tenant {
            tenant = own
        } else if let named = request.headers[Self.header("X-Tally-Tenant")], Self.isTenantID(named) {
            tenant = named
        } else if request.headers[Self.header("X-Tally-Tenant")] != nil {
            throw Problem.invalidParameter("X-Tally-Tenant", "must be 1-64 characters of [A-Za-z0-9._:-]")
        } else {
            throw Problem.invalidParameter("X-Tally-Tenant", "an admin key names the tenant the call is recorded for")
        }
        var attribution: [(field: String, value: String)] = []
        for (header, field) in Self.attributionHeaders {
            guard let value = request.headers[Self.header(header)] else { continue }
            guard value.utf8.count <= analytics.options.ingestLimits.maxFieldBytes else {
                throw Problem.invalidParameter(header, "is longer than \(analytics.options.ingestLimits.maxFieldBytes) bytes")
            }
            attribution.append((field, value))
        }
        let requestID = request.headers[Self.header("X-Tally-Request-Id")]
        if let requestID, requestID.utf8.count > analytics.options.ingestLimits.maxRequestIDBytes || requestID.isEmpty {
            throw Problem.invalidParameter("X-Tally-Request-Id", "must be 1-\(analytics.options.ingestLimits.maxRequestIDBytes) bytes")
        }
        guard let setup else {
            throw Problem(.notFound, "the proxy is off; start tally serve with --proxy-upstream \(kind.rawValue)=URL")
        }
        guard let base = setup.upstreams[kind] else {
            throw Problem(.notFound, "no \(kind.rawValue) upstream is configured; start tally serve with --proxy-upstream \(kind.rawValue)=URL")
        }

        let rest = context.parameters.getCatchAll().joined(separator: "/")
        var url = base + "/" + rest
        if let query = request.uri.query, !query.isEmpty { url += "?" + query }
        var upstream = HTTPClientRequest(url: url)
        upstream.method = .init(rawValue: request.method.rawValue)
        for field in request.headers {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || name.hasPrefix("x-tally-") || name == "accept-encoding" { continue }
            upstream.headers.add(name: field.name.rawName, value: field.value)
        }
        // The answer's usage must be readable on its way through: ask for it uncompressed.
        upstream.headers.add(name: "Accept-Encoding", value: "identity")

        var injected = false
        let encoding = request.headers[.contentEncoding]?.lowercased() ?? "identity"
        let length = request.headers[.contentLength].flatMap { Int($0) }
        if kind == .openai, request.method == .post, rest.hasSuffix("chat/completions"), encoding == "identity" {
            let body = try await RequestBodyReader.read(request, limit: maxBodyBytes)
            let edit = IncludeUsage.inject(into: body)
            injected = edit.injected
            upstream.body = .bytes(edit.body)
        } else if length != nil || [.post, .put, .patch].contains(request.method) {
            upstream.body = .stream(request.body, length: length.map { .known(Int64($0)) } ?? .unknown)
        }

        let answer: HTTPClientResponse
        do {
            answer = try await setup.client.execute(upstream, timeout: .milliseconds(Int64(setup.timeoutSeconds * 1000)))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw Problem(.upstreamTimeout, "the \(kind.rawValue) upstream \(Self.host(of: base)) did not answer within \(Int(setup.timeoutSeconds)) s")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.warning("proxy upstream unreachable", metadata: ["upstream": "\(Self.host(of: base))", "error": "\(error)"])
            throw Problem(.upstreamUnreachable, "could not reach the \(kind.rawValue) upstream \(Self.host(of: base)): \(error)")
        }

        let contentType = answer.headers.first(name: "content-type")
        let stripUsage = injected
        let rewrites = AnswerMeter(contentType: contentType, stripInjectedUsage: stripUsage).rewrites
        var headers = HTTPFields()
        for (name, value) in answer.headers {
            let lower = name.lowercased()
            if Self.hopByHop.contains(lower) { continue }
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        let contentLength = rewrites ? nil : answer.headers.first(name: "content-length").flatMap { Int($0) }
        let status = HTTPResponse.Status(code: Int(answer.status.code), reasonPhrase: answer.status.reasonPhrase)
        let succeeded = (200..<300).contains(Int(answer.status.code))
        let recorder = setup.recorder
        let analytics = self.analytics
        let logger = context.logger
        let body = answer.body
        let method = request.method
        let fields = attribution
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: contentLength) { writer in
            var meter = AnswerMeter(contentType: contentType, stripInjectedUsage: stripUsage)
            for try await chunk in body {
                let out = meter.take(chunk)
                if out.readableBytes > 0 { try await writer.write(out) }
            }
            if let rest = meter.finish() { try await writer.write(rest) }
            if succeeded {
                let usage = meter.usage
                if usage.isComplete {
                    let line = ProxyRecorder.recordLine(
                        tenant: tenant, requestID: requestID ?? usage.id ?? Self.randomID(), attribution: fields,
                        usage: usage, createdAt: analytics.now)
                    recorder.submit(line, principal: principal)
                } else if method == .post {
                    logger.notice("proxy answer without usage; no record", metadata: ["provider": "\(kind.rawValue)", "path": "\(rest)"])
                }
            }
            try await writer.finish(nil)
        })
    }

    /// The principal of `X-Tally-Key` (a 401 without one, or for an unknown or revoked key).
    private func authenticate(_ request: Request, context: Context) async throws -> Principal {
        guard let secret = request.headers[Self.header("X-Tally-Key")]?.trimmingASCIIWhitespace(), !secret.isEmpty else {
            throw Problem(.unauthorized, "send your Tally key as X-Tally-Key: <key> (the provider's key stays in Authorization or x-api-key)",
                          parameter: "X-Tally-Key")
        }
        guard let principal = try await analytics.authenticate(secret: secret) else {
            if let n = metrics.recordAuthFailure(now: analytics.clock.monotonicSeconds()) {
                context.logger.warning("API key refused", metadata: ["failures_since_last_report": "\(n)"])
            }
            throw Problem(.unauthorized, "the Tally key is unknown or revoked", parameter: "X-Tally-Key")
        }
        return principal
    }

    static func header(_ name: String) -> HTTPField.Name { HTTPField.Name(name)! }

    /// The record contract's rule for `tenant_id`: 1-64 characters of `[A-Za-z0-9._:-]`.
    static func isTenantID(_ s: String) -> Bool {
        (1...64).contains(s.utf8.count) && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D
        }
    }

    /// `api.openai.com:443` of a base URL, for messages (never a path or query).
    static func host(of url: String) -> String {
        let afterScheme = url.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first
        return afterScheme.map(String.init) ?? url
    }

    /// A request id for an answer without one: `proxy-` and 32 random hex digits.
    static func randomID() -> String {
        var g = SystemRandomNumberGenerator()
        return "proxy-" + String(g.next(), radix: 16) + String(g.next(), radix: 16)
    }
}
