import TallyAnalytics
import TallyStore

/// What became of the spans of one export request.
public struct TraceExportResult: Sendable, Equatable {
    /// Spans in the request.
    public var spans = 0
    /// Records stored now.
    public var stored = 0
    /// GenAI spans whose record was already stored (a span sent again): accepted, stored once.
    public var duplicates = 0
    /// Spans that are not GenAI model calls: ignored, not an error.
    public var ignored = 0
    /// GenAI spans refused (`rejected_spans` of the answer's partial success).
    public var rejected = 0
    /// Why, for the first few refused spans (the answer's `error_message`); empty when none was refused.
    public var errorMessage = ""

    /// The `ExportTraceServiceResponse` in `encoding`: empty on full success; with `partial_success` (`rejected_spans`,
    /// `error_message`) when spans were refused.
    public func responseBody(_ encoding: OTLPEncoding) -> [UInt8] {
        var response = ExportTraceServiceResponse()
        if rejected > 0 {
            response.partialSuccess.rejectedSpans = Int64(rejected)
            response.partialSuccess.errorMessage = errorMessage
        }
        return OTLPWire.encode(response, encoding)
    }
}

/// OTLP trace ingestion: decodes an export request, maps its GenAI spans to cost records (`SpanRecordMapper`) and
/// stores them through the records path (`Analytics.ingest`), answering per span.
public struct TraceExport: Sendable {
    public let analytics: Analytics
    public let mapping: SpanMapping
    /// How many refused spans `errorMessage` names (the rest are counted).
    public var listedRejections = 5

    /// An ingester over `analytics` with `mapping`.
    public init(analytics: Analytics, mapping: SpanMapping = .standard) {
        self.analytics = analytics
        self.mapping = mapping
    }

    /// Stores the GenAI spans of `body` for `principal`; returns once the stored records are durable.
    ///
    /// Throws `OTLPDecodingError` for a body that is not an export request (the whole request is refused), the
    /// access policy's refusal for a key that may not write records, and the store's errors.
    public func export(_ body: [UInt8], encoding: OTLPEncoding, principal: Principal) async throws -> TraceExportResult {
        try AccessPolicy.check(.writeRecords, principal)
        let mapper = SpanRecordMapper(mapping: mapping, pricing: analytics.options.pricing)
        let mapped = try await analytics.blocking {
            let request = try OTLPWire.decodeTraceRequest(body, encoding)
            return mapper.map(request, keyTenant: principal.tenant)
        }
        var result = TraceExportResult()
        result.spans = mapped.spans
        result.ignored = mapped.ignored
        var reasons = mapped.rejected.map { ($0.spanID, $0.reason) }
        if !mapped.spanIDs.isEmpty {
            let receipt = try await analytics.ingest(mapped.ndjson, format: .ndjson, principal: principal, skipInvalid: true)
            result.stored = receipt.inserted
            result.duplicates = receipt.duplicateLines.count
            result.rejected = receipt.rejectedLines
            var seen = Set<Int>()
            for e in receipt.errors where seen.insert(e.line).inserted {
                let id = e.line >= 1 && e.line <= mapped.spanIDs.count ? mapped.spanIDs[e.line - 1] : ""
                reasons.append((id, (e.field.map { $0 + ": " } ?? "") + e.reason))
            }
        }
        result.rejected += mapped.rejected.count
        if result.rejected > 0 {
            let listed = reasons.prefix(max(1, listedRejections)).map { "span \($0.0.isEmpty ? "(no id)" : $0.0): \($0.1)" }
            result.errorMessage = "\(result.rejected) of \(result.spans) span(s) rejected: " + listed.joined(separator: "; ")
                + (result.rejected > listed.count ? "; ..." : "")
        }
        return result
    }
}
