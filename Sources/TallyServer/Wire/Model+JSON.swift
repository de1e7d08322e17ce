import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of the shared pieces (totals, series points, windows, provenance): the members, in this order, are
// the wire contract (OpenAPI/openapi.json).

extension Provenance.Source: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("name", name)
            w.field("snapshot_generation", snapshotGeneration)
            w.field("queries", queries)
            w.field("parts_read", partsRead)
            w.field("head_views_read", headViewsRead)
            w.field("hours_from_rollups", hoursFromRollups)
            w.field("rows_scanned", rowsScanned)
            w.field("rollups", rollups)
        }
    }
}

extension Provenance: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("sources", array: sources)
            w.field("window", window)
            w.field("aggregation", aggregation)
            w.field("generated_at", time: generatedAt)
            w.field("complete", complete)
            if !missing.isEmpty { w.field("missing", array: missing.map(MissingHours.init)) }
        }
    }
}

/// One missing part as an answer states it: whose rows, which hours, how many (no server paths).
struct MissingHours: JSONWritable {
    let part: MissingPart

    func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenant_id", part.tenant)
            w.field("part", part.fileName)
            w.field("from", time: part.firstHour)
            w.field("to", time: part.endHour)
            w.field("rows", part.rows)
        }
    }
}

extension Resolution: JSONWritable {
    public func write(to json: inout JSONWriter) { json.string(rawValue) }
}

extension Totals: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in writeMeasures(to: &w) }
    }
}

extension SeriesPoint: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("start", time: start)
            totals.writeMeasures(to: &w)
            if let trailingAverageNanos { w.field("trailing_average_cost_cents", cents: trailingAverageNanos) }
        }
    }
}

extension Window: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("from", time: from)
            w.field("to", time: to)
            if let resolution {
                w.field("resolution", resolution)
                w.field("buckets", buckets)
            }
        }
    }
}
