import Hummingbird

/// The paths of the facade.
enum APIPath {
    /// Prefix of the analytics routes; the console and `/metrics` sit beside it.
    static let root = "/api/v1/analytics"
}

extension RequestContext {
    /// The `:id` of a route; an id no resource can have is "not found".
    func resourceID(_ kind: String) throws -> String {
        guard let id = parameters.get("id"), !id.isEmpty, id.utf8.count <= 64 else {
            throw Problem(.notFound, "no such \(kind)")
        }
        return id
    }
}

extension JSONBody {
    /// The largest budget, policy, tag, anomaly-settings, webhook or export request body: a handful of short members.
    static let smallLimit = 16 << 10
}
