import Foundation
import TallyQuery
import TallyStore
import TallyText

extension Analytics {
    /// The unreadable parts that may hold rows of an export of `tenant` in `spec`'s window.
    public func exportMissing(_ spec: ExportSpec, tenant: String) async throws -> [MissingPart] {
        try await records.reader().missing(tenants: [tenant], from: spec.from, to: spec.to)
    }

    /// Writes the export `spec` (validated) of `tenant` to the file descriptor `fd` (the file at `path`, when
    /// known: errors name it); returns the rows written.
    ///
    /// Records stream out of one record reader one piece at a time (`RecordReader.forEachRecordBatch`, on the
    /// blocking pool) through a 1 MiB `RecordWriter` buffer, so memory stays constant whatever the number of
    /// records; the rows are the ingestion wire format (CSV with the contract's header, NDJSON, or a JSON array), so
    /// a records export imports back to the same records: its CSV is written raw, not neutralised for spreadsheets
    /// (a value starting with `=` stays as stored; see `SpreadsheetCSV`). Usage and cost exports are aggregates (at
    /// most a few thousand rows), written on the blocking pool too. `progress` gets the rows written so far after each piece.
    ///
    /// When a part that may hold rows of the export is unreadable (quarantined), the export fails naming it
    /// before anything is written, unless `allowPartial` (then the caller says what is missing, from
    /// `exportMissing`): an export never silently lacks rows.
    public func writeExport(
        _ spec: ExportSpec, tenant: String, to fd: Int32, path: String? = nil, allowPartial: Bool = false,
        progress: (Int64) -> Void = { _ in }
    ) async throws -> Int64 {
        let reader = try await records.reader()
        let missing = try await reader.missing(tenants: [tenant], from: spec.from, to: spec.to)
        if !missing.isEmpty && !allowPartial {
            throw AnalyticsError.storage("incomplete: \(missing.count) part(s) of this export are quarantined and unreadable, "
                + "so it would lack their rows: " + missing.map(\.summary).joined(separator: "; "))
        }
        switch spec.kind {
        case .records:
            var writer = switch spec.format {
            case .csv: RecordWriter(format: .csv, fileDescriptor: fd, path: path)
            case .ndjson: RecordWriter(format: .ndjson, fileDescriptor: fd, path: path)
            case .json: RecordWriter.jsonArray(fileDescriptor: fd, path: path)
            }
            var rows: Int64 = 0
            try await reader.forEachRecordBatch(tenant: tenant, from: spec.from, to: spec.to, filters: spec.dimensionFilters) { batch in
                try writer.write(batch)
                rows += Int64(batch.count)
                progress(rows)
            }
            try await pool.runToEnd { _ in try writer.finish() }
            return rows
        case .usage:
            // Aggregate exports read through the same reader, so `missing` above is what they lack.
            let resolution = spec.resolution ?? .day
            var run = QueryRun(reader: reader, useRollups: options.useRollups)
            let window = try seriesWindow(from: spec.from, to: spec.to, resolution: resolution, now: now)
            let points = try await series(&run, tenants: .one(tenant), filters: spec.dimensionFilters, window: window)
            try await pool.runToEnd { _ in
                var out = AggregateFileWriter(format: spec.format, keys: [], withStart: true, fd: fd, path: path)
                for p in points { try out.row(keys: [], start: p.start, p.totals) }
                try out.finish()
            }
            progress(Int64(points.count))
            return Int64(points.count)
        case .cost:
            let keys = spec.keys
            let bucket = spec.resolution?.bucket ?? .none
            let query: Query
            do throws(QueryError) {
                query = try Query(tenants: .one(tenant), from: spec.from, to: spec.to, filters: spec.dimensionFilters, bucket: bucket,
                                  groupBy: keys, order: .key, useRollups: options.useRollups, fillEmptyBuckets: false)
            } catch {
                throw AnalyticsError(error)
            }
            var run = QueryRun(reader: reader, useRollups: options.useRollups)
            let result = try await run.run(query)
            try await pool.runToEnd { _ in
                var out = AggregateFileWriter(format: spec.format, keys: keys.map(\.fieldName), withStart: bucket != .none, fd: fd, path: path)
                for r in 0..<result.rowCount {
                    try out.row(keys: keys.indices.map { result.keyColumns[$0][r] }, start: bucket != .none ? result.bucketStarts[r] : nil,
                                Totals(result, row: r))
                }
                try out.finish()
            }
            progress(Int64(result.rowCount))
            return Int64(result.rowCount)
        }
    }
}

/// Writes aggregate rows (keys, an optional bucket start, the measures) as CSV, NDJSON or a JSON array; CSV
/// cells go through `SpreadsheetCSV`, as these files are opened by people in spreadsheets.
struct AggregateFileWriter {
    let format: ExportFormat
    let keys: [String]
    let withStart: Bool
    let fd: Int32
    /// The file written, for errors (and fault injection).
    let path: String
    private var buffer: [UInt8] = []
    private var rows = 0

    init(format: ExportFormat, keys: [String], withStart: Bool, fd: Int32, path: String?) {
        self.format = format
        self.keys = keys
        self.withStart = withStart
        self.fd = fd
        self.path = path ?? "export file"
        buffer.reserveCapacity(1 << 16)
        switch format {
        case .csv:
            let header = keys + (withStart ? ["start"] : []) + ["records", "input_tokens", "output_tokens", "total_tokens", "cost_cents"]
            buffer.append(contentsOf: (SpreadsheetCSV.row(header) + "\n").utf8)
        case .json:
            buffer.append(UInt8(ascii: "["))
        case .ndjson:
            break
        }
    }

    mutating func row(keys values: [String], start: Int64?, _ t: Totals) throws {
        switch format {
        case .csv:
            var fields = values.map(SpreadsheetCSV.cell)
            if withStart, let start { fields.append(rfc3339(start)) }
            fields += [String(t.records), String(t.inputTokens), String(t.outputTokens), String(t.inputTokens + t.outputTokens), t.costCents]
            buffer.append(contentsOf: (fields.joined(separator: ",") + "\n").utf8)
        case .ndjson, .json:
            var w = JSONWriter(capacity: 256)
            w.object { o in
                for (k, v) in zip(keys, values) { o.field(k, v) }
                if withStart, let start { o.field("start", time: start) }
                t.writeMeasures(to: &o)
            }
            if format == .json { buffer.append(contentsOf: (rows == 0 ? "\n" : ",\n").utf8) }
            buffer.append(contentsOf: w.bytes)
            if format == .ndjson { buffer.append(UInt8(ascii: "\n")) }
        }
        rows += 1
        if buffer.count >= 1 << 16 { try flush() }
    }

    mutating func finish() throws {
        if format == .json { buffer.append(contentsOf: (rows == 0 ? "]\n" : "\n]\n").utf8) }
        try flush()
    }

    private mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try FileIO.writeAll(fd, buffer, path: path)
        buffer.removeAll(keepingCapacity: true)
    }

}
