import TallyStore

/// Why a query cannot run: each case names the parameter a person should fix.
public enum QueryError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidParameter(name: String, reason: String)
    case storage(StoreError)

    public var description: String {
        switch self {
        case let .invalidParameter(name, reason): "\(name): \(reason)"
        case let .storage(e): e.description
        }
    }
}
