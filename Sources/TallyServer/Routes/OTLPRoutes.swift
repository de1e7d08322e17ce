import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import TallyAnalytics
import TallyOTLP
import TallyStore

/// OTLP/HTTP trace ingestion (issue 14): `POST /v1/traces`, and the same under the API root
/// (`/api/v1/analytics/v1/traces`, so `OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:PORT/api/v1/analytics` works as well as
/// `http://HOST:PORT`). GenAI spans become cost records (`TraceExport` in TallyOTLP); the answer follows the OTLP/HTTP
/// specification: 200 with an `ExportTraceServiceResponse` in the request's encoding (`partial_success` naming the
/// rejected spans), failures as `OTLPFailureMiddleware` writes them.
struct OTLPRoutes: Sendable {
    typealias Context = AuthenticatedContext
    /// The two paths the routes answer at.
    static let paths = ["/v1/traces", APIPath.root + "/v1/traces"]
    /// The counts the OTLP answer has no field for (it carries only the rejected spans), as headers of a 200.
    static let spansStored = HTTPField.Name("Tally-Spans-Stored")!
    static let spansDuplicate = HTTPField.Name("Tally-Spans-Duplicate")!
    static let spansIgnored = HTTPField.Name("Tally-Spans-Ignored")!
    static let spansRejected = HTTPField.Name("Tally-Spans-Rejected")!

    let analytics: Analytics
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let admission: ExportAdmission

    func addRoutes(to router: Router<APIRequestContext>) {
        let export = TraceExport(analytics: analytics, mapping: configuration.otlpMapping)
        for path in Self.paths {
            router.group(RouterPath(path))
                .add(middleware: OTLPFailureMiddleware())
                .add(middleware: AuthMiddleware(analytics: analytics, metrics: metrics))
                .group(context: AuthenticatedContext.self)
                .post { request, context in try await traces(request, context: context, export: export) }
        }
    }

    /// `POST /v1/traces`: an `ExportTraceServiceRequest` (`application/x-protobuf` or `application/json`, gzip or not).
    func traces(_ request: Request, context: Context, export: TraceExport) async throws -> Response {
        try AccessPolicy.check(.writeRecords, context.principal)
        guard let encoding = request.headers[.contentType].flatMap(OTLPEncoding.init(contentType:)) else {
            throw Problem(.unsupportedMediaType, "Content-Type must be application/x-protobuf or application/json (OTLP/HTTP)",
                          parameter: "Content-Type")
        }
        guard admission.enter() else {
            throw OTLPThrottled(message: "more than \(admission.limit) exports are in progress; retry after the Retry-After seconds")
        }
        defer { admission.leave() }
        let body = try await RequestBodyReader.read(request, limit: configuration.maxBodyBytes)
        let started = analytics.clock.monotonicSeconds()
        let result = try await export.export(body, encoding: encoding, principal: context.principal)
        metrics.recordOTLPExport(result, seconds: analytics.clock.monotonicSeconds() - started)
        var headers: HTTPFields = [.contentType: encoding.mediaType]
        headers[Self.spansStored] = String(result.stored)
        headers[Self.spansDuplicate] = String(result.duplicates)
        headers[Self.spansIgnored] = String(result.ignored)
        headers[Self.spansRejected] = String(result.rejected)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: result.responseBody(encoding))))
    }
}

/// A bound on the OTLP exports in progress at once (`ServerConfiguration.otlpMaxConcurrentExports`): beyond it an
/// export is answered 429 with `Retry-After` at once, before its body is read, rather than queued, so a burst of
/// exporters backs off (as OTLP clients do on 429) instead of holding sockets and memory.
final class ExportAdmission: Sendable {
    let limit: Int
    private let inProgress = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a place; false when all `limit` are taken.
    func enter() -> Bool {
        inProgress.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    /// Gives a place back.
    func leave() { inProgress.withLock { $0 -= 1 } }
}
