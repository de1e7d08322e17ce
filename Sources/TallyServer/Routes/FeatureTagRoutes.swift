import HTTPTypes
import Hummingbird
import TallyAnalytics

/// Feature tags: register, list with their spend, read, change and delete.
struct FeatureTagRoutes: Sendable {
    typealias Context = AuthenticatedContext
    let analytics: Analytics

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("feature-tags", use: createFeatureTag)
        group.get("feature-tags", use: listFeatureTags)
        group.get("feature-tags/:id", use: getFeatureTag)
        group.patch("feature-tags/:id", use: updateFeatureTag)
        group.delete("feature-tags/:id", use: deleteFeatureTag)
    }

    /// `POST feature-tags`: registers a tag (admin keys); 201 with the tag and its spend over the last 30 days.
    @Sendable func createFeatureTag(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: ["tenant_id", "tag", "description", "owner"])
        let draft = FeatureTagDraft(tenantID: try body.string("tenant_id"), tag: try body.string("tag"),
                                    description: try body.string("description"), owner: try body.string("owner"))
        let answer = try await analytics.registerFeatureTag(draft, principal: context.principal)
        var response = JSONCoding.response(answer, status: .created)
        response.headers[.location] = APIPath.root + "/feature-tags/" + answer.view.tag.id
        return response
    }

    /// `GET feature-tags`: a tenant's registered tags with their spend in the window, and the unregistered tags seen.
    @Sendable func listFeatureTags(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id", "from", "to"])
        return JSONCoding.response(try await analytics.featureTags(
            tenantID: try q.single("tenant_id"), from: try q.time("from"), to: try q.time("to"), principal: context.principal))
    }

    /// `GET feature-tags/{id}`.
    @Sendable func getFeatureTag(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["from", "to"])
        return JSONCoding.response(try await analytics.featureTag(
            id: try context.resourceID("feature tag"), from: try q.time("from"), to: try q.time("to"), principal: context.principal))
    }

    /// `PATCH feature-tags/{id}`: changes `description` or `owner` (admin keys).
    @Sendable func updateFeatureTag(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let id = try context.resourceID("feature tag")
        let body = try await JSONBody.read(request, limit: JSONBody.smallLimit, allowed: ["description", "owner", "tag", "tenant_id"])
        for fixed in ["tag", "tenant_id"] where try body.isPresent(fixed) {
            throw Problem.invalidParameter(fixed, "cannot be changed; delete the registration and register the other tag")
        }
        let patch = FeatureTagPatch(description: try body.string("description"), owner: try body.string("owner"))
        return JSONCoding.response(try await analytics.updateFeatureTag(id: id, patch, principal: context.principal))
    }

    /// `DELETE feature-tags/{id}`: 204 (admin keys); the records keep their tag.
    @Sendable func deleteFeatureTag(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        try await analytics.deleteFeatureTag(id: try context.resourceID("feature tag"), principal: context.principal)
        return Response(status: .noContent)
    }
}
