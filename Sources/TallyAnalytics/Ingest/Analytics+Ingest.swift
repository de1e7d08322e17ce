import TallyStore
import TallyText

/// What became of a batch of records: how many were stored, which were duplicates, which were rejected and why.
public struct IngestReceipt: Sendable {
    /// Whether the good records were stored (false: the batch had bad records and nothing was stored).
    public var stored: Bool
    /// Records read from the body (good and bad).
    public var received: Int
    /// Records stored now.
    public var inserted: Int
    /// Source lines of records whose `(tenant_id, request_id)` was already stored.
    public var duplicateLines: [Int]
    /// Rejected records (each counted once however many of its fields are bad).
    public var rejectedLines: Int
    /// Why records were rejected (one entry per bad field), at most `AnalyticsOptions.maxListedErrors`.
    public var errors: [RecordError]
    /// How many errors were found in all (`errors` lists the first of them by line).
    public var errorCount: Int
    /// Whether `errors` was cut short.
    public var errorsTruncated: Bool

    /// A record error on the wire: `{ line, field, reason }`.
    public struct ErrorEntry: Sendable {
        public var line: Int
        public var field: String?
        public var reason: String

        /// The wire form of a record error.
        public init(_ e: RecordError) {
            line = e.line
            field = e.field
            reason = e.reason
        }
    }
}

extension Analytics {
    /// Parses, checks and stores a body of records for `principal`; returns once the stored records are durable.
    ///
    /// A tenant key's records for another tenant are rejected like any other bad record (field `tenant_id`).
    /// By default a batch with any bad record stores nothing (`stored == false`); with `skipInvalid` the good
    /// records are stored and the bad ones reported.
    public func ingest(_ body: [UInt8], format: InputFormat, principal: Principal, skipInvalid: Bool) async throws -> IngestReceipt {
        try AccessPolicy.check(.writeRecords, principal)
        let maxListed = max(1, options.maxListedErrors)
        var limits = options.ingestLimits
        limits.maxKeptErrors = maxListed
        let parser = RecordParser(format: format, pricing: options.pricing, limits: limits)
        let parsed = try await blocking {
            let outcome = parser.parse(body)
            var batch = outcome.batch
            var errors = outcome.errors
            var errorCount = outcome.errorCount
            var rejectedLines = outcome.rejectedRecords
            if let own = principal.tenant {
                var keep: [Int] = []
                keep.reserveCapacity(batch.count)
                for i in 0..<batch.count {
                    if batch.tenantID(at: i).utf8.elementsEqual(own.utf8) {
                        keep.append(i)
                    } else {
                        errorCount += 1
                        rejectedLines += 1
                        if errors.count < 2 * maxListed {
                            errors.append(RecordError(line: batch.lines[i], field: "tenant_id",
                                                      reason: "belongs to another tenant than the API key"))
                        }
                    }
                }
                if keep.count < batch.count {
                    batch = batch.selecting(keep)
                    errors.sort { ($0.line, $0.field ?? "") < ($1.line, $1.field ?? "") }
                }
            }
            return (batch, errors, errorCount, rejectedLines)
        }
        let (batch, errors, errorCount, rejectedLines) = parsed
        let shouldStore = errorCount == 0 || skipInvalid
        var inserted = 0
        var duplicates: [Int] = []
        if shouldStore && batch.count > 0 {
            let receipt = try await records.append(batch)
            inserted = receipt.inserted
            duplicates = receipt.duplicates.map { batch.lines[$0] }
        }
        return IngestReceipt(
            stored: shouldStore, received: batch.count + rejectedLines, inserted: inserted, duplicateLines: duplicates,
            rejectedLines: rejectedLines, errors: Array(errors.prefix(maxListed)), errorCount: errorCount,
            errorsTruncated: errorCount > maxListed)
    }
}
