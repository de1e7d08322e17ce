import TallyStore

/// Why a query cannot run: each case names the parameter a person should fix.
public enum QueryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A query parameter is invalid: `name` is the parameter (`from`, `filter.model`, ...), `reason` why.
    case invalidParameter(name: String, reason: String)
    /// The store failed to read (a damaged part is quarantined before this is thrown).
    case storage(StoreError)

    /// What went wrong, naming the parameter or the damaged file.
    public var description: String {
        switch self {
        case let .invalidParameter(name, reason): "\(name): \(reason)"
        case let .storage(e): e.description
        }
    }
}
