import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of ingestion receipts: the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension IngestReceipt: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("status", stored ? "stored" : "rejected")
            w.field("received", received)
            w.field("inserted", inserted)
            w.field("duplicates") { d in
                d.field("count", duplicateLines.count)
                d.field("lines", integers: duplicateLines)
            }
            w.field("rejected") { r in
                r.field("count", rejectedLines)
                r.field("errors", array: errors.map(ErrorEntry.init))
                r.field("error_count", errorCount)
                r.field("truncated", errorsTruncated)
            }
        }
    }
}

extension IngestReceipt.ErrorEntry: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("line", line)
            w.field("field", field)
            w.field("reason", reason)
        }
    }
}
