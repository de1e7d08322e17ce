import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of exports: the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension ExportSpec: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("kind", kind.rawValue)
            w.field("format", format.rawValue)
            w.field("from", time: from)
            w.field("to", time: to)
            w.field("filters") { f in
                for (name, values) in filters.sorted(by: { $0.key < $1.key }) { f.field(name, strings: values) }
            }
            if !groupBy.isEmpty { w.field("group_by", strings: groupBy) }
            if let resolution { w.field("resolution", resolution) }
        }
    }
}

extension ExportView: JSONWritable {
    public func write(to json: inout JSONWriter) {
        let e = export
        json.object { w in
            w.field("id", e.id)
            w.field("tenant_id", e.tenant)
            w.field("status", e.status.rawValue)
            w.field("download_url", e.status == .ready ? downloadURL : nil)
            w.field("expires_at", time: e.expiresAt)
            w.field("created_at", time: e.createdAt)
            w.field("completed_at", time: e.completedAt)
            w.field("rows", e.rows)
            w.field("bytes", e.bytes)
            w.field("media_type", e.spec.format.mediaType)
            w.field("error", e.error)
            w.field("request", e.spec)
        }
    }
}
