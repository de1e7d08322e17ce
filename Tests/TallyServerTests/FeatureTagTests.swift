import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import Testing

let featureTagsPath = "/api/v1/analytics/feature-tags"

@Suite("Feature tags: registry, spend, unregistered tags, audit, isolation")
struct FeatureTagTests {
    /// Registers a tag of acme with the admin key and returns the tag's JSON.
    static func register(_ client: any TestClientProtocol, _ f: ServerFixture, _ tag: String, tenant: String = "acme") async throws
        -> [String: Any]
    {
        let r = try await send(client, .post, featureTagsPath, f.adminKey,
                               #"{"tenant_id":"\#(tenant)","tag":"\#(tag)","description":"the \#(tag) feature","owner":"team-\#(tag)"}"#)
        #expect(r.status == .created, "\(String(buffer: r.body))")
        return try #require(try json(r).object("feature_tag"))
    }

    @Test("register, read, list, change and delete a tag; spend over the last 30 days by default")
    func lifecycle() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await send(client, .post, featureTagsPath, f.adminKey,
                                   #"{"tenant_id":"acme","tag":"chat","description":"Support chat\nassistant","owner":"support-team"}"#)
            #expect(r.status == .created)
            let created = try #require(try json(r).object("feature_tag"))
            let id = try #require(created.string("id"))
            #expect(id.hasPrefix("ftg_"))
            #expect(r.headers[.location] == featureTagsPath + "/" + id)
            #expect(created.string("tag") == "chat")
            #expect(created.string("description") == "Support chat\nassistant")
            #expect(created.string("owner") == "support-team")
            #expect(created["registered"] as? Bool == true)
            // chat in 2025-04-04 ..< 2025-05-04: a1 10.5, a3 5 and a5 7 (April 30).
            #expect(created.object("spend")?.string("cost_cents") == "22.5000000")
            #expect(created.object("spend")?.int("records") == 3)

            let got = try await send(client, .get, featureTagsPath + "/" + id + "?from=2025-05-01", f.readerA)
            #expect(got.status == .ok)
            #expect(try json(got).object("feature_tag")?.object("spend")?.string("cost_cents") == "15.5000000")
            #expect(try json(got).object("provenance") != nil)

            f.setNow("2025-05-04T06:00:00Z")
            let patched = try await send(client, .patch, featureTagsPath + "/" + id, f.adminKey, #"{"owner":"cx-team"}"#)
            #expect(patched.status == .ok)
            let p = try #require(try json(patched).object("feature_tag"))
            #expect(p.string("owner") == "cx-team")
            #expect(p.string("description") == "Support chat\nassistant")
            #expect(p.string("updated_at") == "2025-05-04T06:00:00Z")
            #expect(p.string("created_at") == "2025-05-04T00:00:00Z")
            try expectProblem(try await send(client, .patch, featureTagsPath + "/" + id, f.adminKey, #"{"tag":"chat2"}"#),
                              .badRequest, "invalid-parameter", parameter: "tag")
            try expectProblem(try await send(client, .post, featureTagsPath, f.adminKey,
                                             #"{"tenant_id":"acme","tag":"chat","description":"again","owner":"x"}"#), .conflict, "conflict")

            #expect(try await send(client, .delete, featureTagsPath + "/" + id, f.adminKey).status == .noContent)
            try expectProblem(try await send(client, .get, featureTagsPath + "/" + id, f.readerA), .notFound, "not-found")
            try expectProblem(try await send(client, .delete, featureTagsPath + "/" + id, f.adminKey), .notFound, "not-found")
            // Its records are still there: the tag now lists as unregistered.
            let list = try json(try await send(client, .get, featureTagsPath, f.readerA))
            #expect(list.array("tags")?.isEmpty == true)
            #expect(list.array("unregistered")?.first { $0.string("tag") == "chat" }?.object("spend")?.string("cost_cents") == "22.5000000")
        }
    }

    @Test("the list: registered tags with spend (zero when unused), then every unregistered tag seen, by cost; nothing dropped at ingest")
    func listing() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await Self.register(client, f, "chat")
            _ = try await Self.register(client, f, "planned")
            let ingest = try await client.execute(
                uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                body: ndjson([#"{"tenant_id":"acme","request_id":"n1","model":"gpt-4o","input_tokens":1,"output_tokens":1,"feature_tag":"brand-new","cost_cents":"50","created_at":"2025-05-03T12:00:00Z"}"#]))
            #expect(ingest.status == .ok)
            let r = try await send(client, .get, featureTagsPath, f.readerA)
            #expect(r.status == .ok)
            let body = try json(r)
            #expect(body.object("scope")?.string("tenant_id") == "acme")
            let tags = try #require(body.array("tags"))
            #expect(tags.map { $0.string("tag") } == ["chat", "planned"])
            #expect(tags.map { $0.object("spend")?.string("cost_cents") } == ["22.5000000", "0.0000000"])
            let unregistered = try #require(body.array("unregistered"))
            #expect(unregistered.map { $0.string("tag") } == ["brand-new", "search", "summarize"])
            #expect(unregistered.map { $0.object("spend")?.string("cost_cents") } == ["50.0000000", "20.2500000", "0.0000001"])
            #expect(unregistered.allSatisfy { $0["registered"] as? Bool == false })
            // A window narrows both lists' spend; tags with no records in it are not "seen".
            let may2 = try json(try await send(client, .get, featureTagsPath + "?from=2025-05-02&to=2025-05-03", f.readerA))
            #expect(may2.array("tags")?.first?.object("spend")?.string("cost_cents") == "5.0000000")
            #expect(may2.array("unregistered")?.isEmpty == true)
            try expectProblem(try await send(client, .get, featureTagsPath + "?from=2025-05-03&to=2025-05-02", f.readerA),
                              .badRequest, "invalid-parameter", parameter: "from")
        }
    }

    @Test("validation errors name the field", arguments: [
        (#"{"tenant_id":"acme","description":"d","owner":"o"}"#, "tag"),
        (#"{"tenant_id":"acme","tag":"","description":"d","owner":"o"}"#, "tag"),
        (#"{"tenant_id":"acme","tag":7,"description":"d","owner":"o"}"#, "tag"),
        (#"{"tenant_id":"acme","tag":"a\u0001b","description":"d","owner":"o"}"#, "tag"),
        (#"{"tenant_id":"acme","tag":"t","owner":"o"}"#, "description"),
        (#"{"tenant_id":"acme","tag":"t","description":"   ","owner":"o"}"#, "description"),
        (#"{"tenant_id":"acme","tag":"t","description":"d"}"#, "owner"),
        (#"{"tenant_id":"acme","tag":"t","description":"d","owner":"two\nlines"}"#, "owner"),
        (#"{"tenant_id":"acme","tag":"t","description":"d","owner":"o","colour":"red"}"#, "colour"),
        (#"{"tag":"t","description":"d","owner":"o"}"#, "tenant_id"),
    ])
    func validation(body: String, parameter: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try expectProblem(try await send(client, .post, featureTagsPath, f.adminKey, body), .badRequest, "invalid-parameter",
                                  parameter: parameter)
        }
    }

    @Test("roles: changes need an admin key; reads a reader or admin key (admins name the tenant)")
    func roles() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let id = try #require(try await Self.register(client, f, "chat").string("id"))
            let body = #"{"tag":"x","description":"d","owner":"o"}"#
            for key in [f.writerA, f.readerA] {
                try expectProblem(try await send(client, .post, featureTagsPath, key, body), .forbidden, "forbidden")
                try expectProblem(try await send(client, .patch, featureTagsPath + "/" + id, key, #"{"owner":"me"}"#), .forbidden, "forbidden")
                try expectProblem(try await send(client, .delete, featureTagsPath + "/" + id, key), .forbidden, "forbidden")
            }
            try expectProblem(try await send(client, .get, featureTagsPath, f.writerA), .forbidden, "forbidden")
            try expectProblem(try await send(client, .get, featureTagsPath, f.adminKey), .badRequest, "invalid-parameter", parameter: "tenant_id")
            #expect(try await send(client, .get, featureTagsPath + "?tenant_id=acme", f.adminKey).status == .ok)
            #expect(try await send(client, .get, featureTagsPath + "/" + id, f.adminKey).status == .ok)
            try expectProblem(try await client.execute(uri: featureTagsPath, method: .get), .unauthorized, "unauthorized")
        }
    }

    @Test("tenant isolation: another tenant's tag is not found, its list shows only its own records")
    func isolation() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let id = try #require(try await Self.register(client, f, "chat").string("id"))
            try expectProblem(try await send(client, .get, featureTagsPath + "/" + id, f.readerB), .notFound, "not-found")
            let b = try json(try await send(client, .get, featureTagsPath, f.readerB))
            #expect(b.object("scope")?.string("tenant_id") == "globex")
            #expect(b.array("tags")?.isEmpty == true)
            // globex's own chat records (1000 + 2000 cents) are its unregistered chat tag; acme's registration does not apply.
            #expect(b.array("unregistered")?.map { $0.string("tag") } == ["chat"])
            #expect(b.array("unregistered")?.first?.object("spend")?.string("cost_cents") == "3000.0000000")
            try expectProblem(try await send(client, .get, featureTagsPath + "?tenant_id=acme", f.readerB), .forbidden, "forbidden")
            // globex may register its own chat.
            _ = try await Self.register(client, f, "chat", tenant: "globex")
            #expect(try json(try await send(client, .get, featureTagsPath, f.readerA)).array("tags")?.count == 1)
        }
    }

    @Test("every registration change is audited with before and after; another tenant cannot see it")
    func audited() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let id = try #require(try await Self.register(client, f, "chat").string("id"))
            _ = try await send(client, .patch, featureTagsPath + "/" + id, f.adminKey, #"{"description":"new words"}"#)
            _ = try await send(client, .delete, featureTagsPath + "/" + id, f.adminKey)
            let entries = try await auditEntries(client, f.readerA, "?entity_type=feature_tag")
            #expect(entries.map { $0.string("action") } == ["delete", "update", "create"])
            #expect(entries.allSatisfy { $0.string("entity_id") == id && $0.string("tenant_id") == "acme" })
            #expect(entries[2]["before"] is NSNull)
            #expect(entries[2].object("after")?.string("owner") == "team-chat")
            #expect(entries[1].object("before")?.string("description") == "the chat feature")
            #expect(entries[1].object("after")?.string("description") == "new words")
            #expect(entries[0].object("before")?.string("tag") == "chat")
            #expect(entries[0]["after"] is NSNull)
            #expect(try await auditEntries(client, f.readerB, "?entity_type=feature_tag").isEmpty)
        }
    }
}
