import Hummingbird
import TallyAnalytics

extension Handlers {
    /// `GET pricing`: the price table (per model, its prices with their effective dates); any key.
    func pricing(_ request: Request, _ context: APIRequestContext) throws -> Response {
        _ = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        return JSONCoding.response(analytics.pricing())
    }
}
