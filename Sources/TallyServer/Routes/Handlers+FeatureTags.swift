import HTTPTypes
import Hummingbird
import TallyAnalytics

extension Handlers {
    /// `POST feature-tags`: registers a tag (admin keys); 201 with the tag and its spend over the last 30 days.
    func createFeatureTag(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes, allowed: ["tenant_id", "tag", "description", "owner"])
        let draft = FeatureTagDraft(tenantID: try body.string("tenant_id"), tag: try body.string("tag"),
                                    description: try body.string("description"), owner: try body.string("owner"))
        let answer = try await analytics.registerFeatureTag(draft, principal: principal)
        var response = JSONCoding.response(answer, status: .created)
        response.headers[.location] = Endpoint.listFeatureTags.path + "/" + answer.view.tag.id
        return response
    }

    /// `GET feature-tags`: a tenant's registered tags with their spend in the window, and the unregistered tags seen.
    func listFeatureTags(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["tenant_id", "from", "to"])
        return JSONCoding.response(try await analytics.featureTags(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"), principal: principal))
    }

    /// `GET feature-tags/{id}`.
    func getFeatureTag(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["from", "to"])
        return JSONCoding.response(try await analytics.featureTag(
            id: try resourceID(context, "feature tag"), from: try q.time("from"), to: try q.time("to"), principal: principal))
    }

    /// `PATCH feature-tags/{id}`: changes `description` or `owner` (admin keys).
    func updateFeatureTag(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let id = try resourceID(context, "feature tag")
        let body = try await JSONBody.read(request, limit: Self.maxSmallBodyBytes, allowed: ["description", "owner", "tag", "tenant_id"])
        for fixed in ["tag", "tenant_id"] where try body.isPresent(fixed) {
            throw Problem.invalidParameter(fixed, "cannot be changed; delete the registration and register the other tag")
        }
        let patch = FeatureTagPatch(description: try body.string("description"), owner: try body.string("owner"))
        return JSONCoding.response(try await analytics.updateFeatureTag(id: id, patch, principal: principal))
    }

    /// `DELETE feature-tags/{id}`: 204 (admin keys); the records keep their tag.
    func deleteFeatureTag(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        try await analytics.deleteFeatureTag(id: try resourceID(context, "feature tag"), principal: principal)
        return Response(status: .noContent)
    }
}
