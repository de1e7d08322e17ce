import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyStore

/// Ingest: batches of records, answered with a per-record receipt; `Idempotency-Key` makes a retry a replay.
struct RecordsRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let idempotency: IdempotencyMiddleware

    func addRoutes(to group: RouterGroup<Context>) {
        group.group()
            .add(middleware: idempotency)
            .post("records", use: records)
    }

    /// `POST records`: stores a batch of NDJSON, JSON-array or CSV records and answers with a per-record receipt.
    ///
    /// 200 with the receipt when the batch was stored (with `on_error=skip`, also when some records were
    /// rejected); 422 `invalid-records` with the first bad records' line, field and reason and the count of
    /// all, when nothing was stored; 400 when the body holds no records at all. The 200 and the 422 are answers
    /// (returned, so `IdempotencyMiddleware` keeps them for a retry); every other failure is thrown.
    @Sendable func records(_ request: Request, context: Context) async throws -> Response {
        try AccessPolicy.check(.writeRecords, context.principal)
        let q = try QueryParameters(request, allowed: ["on_error"])
        let skipInvalid: Bool
        switch try q.single("on_error") {
        case nil, "reject": skipInvalid = false
        case "skip": skipInvalid = true
        default: throw Problem.invalidParameter("on_error", "must be reject (default: store nothing if any record is bad) or skip")
        }
        guard let format = InputFormat(mediaType: request.headers[.contentType] ?? "") else {
            throw Problem(
                .unsupportedMediaType,
                "Content-Type must be application/x-ndjson, application/json (an array) or text/csv", parameter: "Content-Type")
        }
        let body = try await RequestBodyReader.read(request, limit: configuration.maxBodyBytes)
        guard !body.isEmpty else { throw Self.noRecords }

        let started = analytics.clock.monotonicSeconds()
        let receipt = try await analytics.ingest(body, format: format, principal: context.principal, skipInvalid: skipInvalid)
        // Blank lines, a CSV header alone or `[]` hold no records, like an empty body, and get its answer.
        if receipt.received == 0 && receipt.errorCount == 0 { throw Self.noRecords }
        metrics.recordIngest(receipt, seconds: analytics.clock.monotonicSeconds() - started)
        if receipt.stored { return JSONCoding.response(receipt) }
        return Problem(
            .invalidRecords,
            "\(receipt.rejectedLines) record(s) are invalid, so none of the \(receipt.received) was stored; fix them, "
                + "or send on_error=skip to store the valid ones", receipt: receipt
        ).response()
    }

    /// The answer to a body without records: empty, blank lines, a CSV header alone, an empty JSON array.
    static let noRecords = Problem.invalidParameter("body", "the request body holds no records")
}
