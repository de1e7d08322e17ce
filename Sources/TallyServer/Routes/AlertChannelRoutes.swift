import HTTPTypes
import Hummingbird
import Logging
import TallyAnalytics

/// Alert channels (Slack-compatible incoming webhooks and email over SMTP): create, list, read, change, delete, and
/// send a test message at once. Admin keys (configuration: an application must not silence its own alerts).
struct AlertChannelRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    static let fields: Set<String> = [
        "tenant_id", "name", "kind", "url", "smtp_host", "smtp_port", "smtp_username", "smtp_password", "from", "to", "min_severity",
        "quiet_minutes", "enabled",
    ]

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("alert-channels", use: create)
        group.get("alert-channels", use: list)
        group.get("alert-channels/:id", use: get)
        group.patch("alert-channels/:id", use: update)
        group.delete("alert-channels/:id", use: delete)
        group.post("alert-channels/:id/test", use: test)
    }

    /// `POST alert-channels`: 201 with the channel (secrets masked).
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let draft = try await Self.draft(request)
        let view = try await analytics.createAlertChannel(draft, principal: context.principal)
        var response = JSONCoding.response(AlertChannelAnswer(view: view), status: .created)
        response.headers[.location] = APIPath.root + "/alert-channels/" + view.channel.id
        return response
    }

    /// `GET alert-channels`: a tenant's channels.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        return JSONCoding.response(try await analytics.alertChannels(tenantID: try q.single("tenant_id"), principal: context.principal))
    }

    /// `GET alert-channels/{id}`.
    @Sendable func get(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let view = try await analytics.alertChannel(id: try context.resourceID("alert channel"), principal: context.principal)
        return JSONCoding.response(AlertChannelAnswer(view: view))
    }

    /// `PATCH alert-channels/{id}`: changes the fields given.
    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let id = try context.resourceID("alert channel")
        let draft = try await Self.draft(request)
        return JSONCoding.response(AlertChannelAnswer(view: try await analytics.updateAlertChannel(id: id, draft, principal: context.principal)))
    }

    /// `DELETE alert-channels/{id}`: 204; its pending deliveries are given up.
    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        try await analytics.deleteAlertChannel(id: try context.resourceID("alert channel"), principal: context.principal)
        return Response(status: .noContent)
    }

    /// `POST alert-channels/{id}/test`: sends a test message now (not through the outbox) and says whether it was
    /// accepted, with the reason when not (200 either way: the request worked, the channel may not).
    @Sendable func test(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let (channel, message) = try await analytics.alertChannelTest(id: try context.resourceID("alert channel"), principal: context.principal)
        let deliverer = AlertDeliverer(analytics: analytics, logger: Logger(label: "tally.alerts.test"))
        let outcome = await deliverer.attempt(message, channel)
        try? await deliverer.shutdown()
        return JSONCoding.response(AlertTestResult(channelID: channel.id, delivered: outcome == nil, error: outcome?.error,
                                                   sentAt: analytics.now))
    }

    /// The members of a create or update body, as given.
    static func draft(_ request: Request) async throws -> AlertChannelDraft {
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: fields)
        var d = AlertChannelDraft()
        d.tenantID = try body.string("tenant_id")
        d.name = try body.string("name")
        d.kind = try body.string("kind")
        d.url = try body.string("url")
        d.smtpHost = try body.string("smtp_host")
        d.smtpPort = try integer(body, "smtp_port")
        d.smtpUsername = try body.string("smtp_username")
        d.smtpPassword = try body.string("smtp_password")
        d.from = try body.string("from")
        d.to = try body.strings("to")
        d.minSeverity = try body.string("min_severity")
        d.quietMinutes = try integer(body, "quiet_minutes")
        d.enabled = try body.bool("enabled")
        d.present = body.names
        return d
    }

    static func integer(_ body: JSONBody, _ name: String) throws -> Int? {
        guard let v = try body.number(name) else { return nil }
        guard v.rounded() == v, abs(v) < 1e9 else { throw Problem.invalidParameter(name, "must be a whole number") }
        return Int(v)
    }
}

/// `{ alert_channel }`.
struct AlertChannelAnswer: Sendable {
    var view: AlertChannelView
}
