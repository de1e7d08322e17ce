import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyStore

extension HTTPField.Name {
    /// `Idempotency-Key`: makes a retried batch a no-op that gets the first answer.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `Idempotent-Replayed: true` marks an answer given before.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

extension Handlers {
    /// `POST records`: stores a batch of NDJSON, JSON-array or CSV records and answers with a per-record receipt.
    ///
    /// 200 with the receipt when the batch was stored (with `on_error=skip`, also when some records were
    /// rejected); 422 `invalid-records` with the first bad records' line, field and reason and the count of
    /// all, when nothing was stored; 400 when the body holds no records at all.
    func records(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try AccessPolicy.check(.writeRecords, principal)
        let q = try QueryParameters(request, allowed: ["on_error"])
        let skipInvalid: Bool
        switch try q.single("on_error") {
        case nil, "reject": skipInvalid = false
        case "skip": skipInvalid = true
        default: throw Problem.invalidParameter("on_error", "must be reject (default: store nothing if any record is bad) or skip")
        }
        let mediaType = request.headers[.contentType] ?? ""
        guard let format = InputFormat(mediaType: mediaType) else {
            throw Problem(
                .unsupportedMediaType,
                "Content-Type must be application/x-ndjson, application/json (an array) or text/csv", parameter: "Content-Type")
        }
        let idempotencyKey = request.headers[.idempotencyKey]
        if let idempotencyKey { try Analytics.checkIdempotencyKey(idempotencyKey) }
        let body = try await RequestBodyReader.read(request, limit: configuration.maxBodyBytes)
        guard !body.isEmpty else { throw Self.noRecords }

        let ingest: @Sendable () async throws -> IdempotentAnswer = { [analytics, metrics] in
            let started = monotonicSeconds()
            let receipt = try await analytics.ingest(body, format: format, principal: principal, skipInvalid: skipInvalid)
            // Blank lines, a CSV header alone or `[]` hold no records, like an empty body, and get its answer.
            if receipt.received == 0 && receipt.errorCount == 0 { throw Self.noRecords }
            metrics.recordIngest(receipt, seconds: monotonicSeconds() - started)
            if receipt.stored {
                let buffer = JSONCoding.encode(receipt)
                return IdempotentAnswer(fingerprint: [], status: 200, contentType: "application/json",
                                        body: Array(buffer.readableBytesView), createdAt: 0)
            }
            let problem = Problem(
                .invalidRecords,
                "\(receipt.rejectedLines) record(s) are invalid, so none of the \(receipt.received) was stored; fix them, "
                    + "or send on_error=skip to store the valid ones", receipt: receipt)
            return IdempotentAnswer(fingerprint: [], status: Int(problem.kind.status.code), contentType: "application/problem+json",
                                    body: Array(problem.encodedBody().readableBytesView), createdAt: 0)
        }
        guard let idempotencyKey else { return Self.response(try await ingest(), replayed: false) }
        let fingerprint = Analytics.fingerprint([
            Array(request.method.rawValue.utf8), Array(request.uri.path.utf8), Array((request.uri.query ?? "").utf8),
            Array(mediaType.utf8), Array((request.headers[.contentEncoding] ?? "").utf8), body,
        ])
        let (answer, replayed) = try await analytics.idempotent(
            scope: principal.tenant ?? "*", key: idempotencyKey, fingerprint: fingerprint, answer: ingest)
        return Self.response(answer, replayed: replayed)
    }

    /// The answer to a body without records: empty, blank lines, a CSV header alone, an empty JSON array.
    static let noRecords = Problem.invalidParameter("body", "the request body holds no records")

    static func response(_ answer: IdempotentAnswer, replayed: Bool) -> Response {
        var headers: HTTPFields = [.contentType: answer.contentType]
        if replayed { headers[.idempotentReplayed] = "true" }
        return Response(status: HTTPResponse.Status(code: answer.status), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
