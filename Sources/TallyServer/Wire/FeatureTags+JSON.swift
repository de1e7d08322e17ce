import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of feature tags: the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension FeatureTagView: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            tag.writeMembers(to: &w)
            w.field("registered", true)
            w.field("spend", spend)
        }
    }
}

extension UnregisteredTag: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tag", tag)
            w.field("registered", false)
            w.field("spend", spend)
        }
    }
}

extension FeatureTagAnswer: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("feature_tag", view)
            w.field("window", window)
            w.field("provenance", provenance)
        }
    }
}

extension FeatureTagList: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("scope") { s in s.field("tenant_id", tenant) }
            w.field("window", window)
            w.field("tags", array: tags)
            w.field("unregistered", array: unregistered)
            w.field("provenance", provenance)
        }
    }
}

extension FeatureTag: JSONWritable {
    /// Its members, into an open object (a tag view adds registration and spend).
    func writeMembers(to w: inout JSONWriter) {
        w.field("id", id)
        w.field("tenant_id", tenant)
        w.field("tag", tag)
        w.field("description", description)
        w.field("owner", owner)
        w.field("created_at", time: createdAt)
        w.field("updated_at", time: updatedAt)
        w.field("created_by", createdBy)
    }

    /// Its settings as the API shows them.
    public func write(to json: inout JSONWriter) {
        json.object { w in writeMembers(to: &w) }
    }
}
