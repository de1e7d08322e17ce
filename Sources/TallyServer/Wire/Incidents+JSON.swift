import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of incidents and webhooks (an incident itself is written by the domain: it is also the webhook
// payload): the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension IncidentList: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("incidents", array: incidents)
            w.field("count", incidents.count)
            w.field("generated_at", time: generatedAt)
            w.field("provenance", provenance)
        }
    }
}

extension IncidentAnswer: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            view.writeMembers(to: &w)
            w.field("provenance", provenance)
        }
    }
}

extension WebhookView: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("tenant_id", webhook.tenant)
            w.field("url", webhook.url)
            w.field("secret_set", true)
            w.field("signature", "X-Tally-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret>")
            w.field("created_at", time: webhook.createdAt)
            w.field("updated_at", time: webhook.updatedAt)
            w.field("deliveries") { d in
                d.field("pending", pending)
                d.field("delivered", delivered)
                d.field("failed", failed)
            }
        }
    }
}
