import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of the audit log: the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension AuditPage: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("scope") { s in s.field("tenant_id", tenantID) }
            w.field("entries", array: entries)
            w.field("next_cursor", nextCursor)
            w.field("generated_at", time: generatedAt)
        }
    }
}

extension AuditEntry: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("id", id)
            w.field("at", time: at)
            w.field("actor", actor)
            w.field("tenant_id", tenant)
            w.field("action", action)
            w.field("entity_type", entityType)
            w.field("entity_id", entityID)
            w.key("before")
            if let before { w.rawJSON(before) } else { w.null() }
            w.key("after")
            if let after { w.rawJSON(after) } else { w.null() }
        }
    }
}
