import TallyQuery
import TallyStore

/// Why an analytics request cannot be answered; each case carries what a person needs to fix it.
///
/// The server maps these to HTTP problems (400, 403, 404, 409, 503); the texts never quote keys or record payloads.
public enum AnalyticsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A parameter is missing, malformed or out of range; `name` is the wire name (`from`, `group_by`...).
    case invalidParameter(name: String, reason: String)
    /// The principal may not do this: wrong role, or another tenant's data.
    case forbidden(reason: String)
    /// No such resource (or it belongs to another tenant, which is not revealed).
    case notFound(reason: String)
    /// The resource would duplicate one that exists.
    case alreadyExists(reason: String)
    /// The resource is not in a state that allows this change (an incident already resolved, say).
    case invalidTransition(reason: String)
    /// A reservation would take enforced budgets over their limit (409 `budget-exceeded`, naming them).
    case budgetExceeded(ReservationDenied)
    /// The store failed or is closed.
    case storage(String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, reason): "\(name): \(reason)"
        case let .forbidden(reason): reason
        case let .notFound(reason): reason
        case let .alreadyExists(reason): reason
        case let .invalidTransition(reason): reason
        case let .budgetExceeded(denied): denied.reason
        case let .storage(text): text
        }
    }

    /// The analytics error for a query-layer error, with the query's parameter names turned into wire names.
    init(_ error: QueryError) {
        switch error {
        case let .invalidParameter(name, reason):
            self = .invalidParameter(name: Self.wireName(name), reason: reason)
        case let .storage(e):
            self = .storage(e.description)
        }
    }

    static func wireName(_ queryName: String) -> String {
        switch queryName {
        case "groupBy": "group_by"
        case "trailingDays": "trailing_days"
        case "tenant": "tenant_id"
        default: queryName
        }
    }
}
