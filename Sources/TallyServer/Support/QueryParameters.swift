import Hummingbird
import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

/// The query parameters of one request, read strictly: unknown names, repeated single values and
/// malformed values are 400 problems naming the parameter.
struct QueryParameters {
    private var values: [String: [String]] = [:]

    /// Reads `request`'s query string and checks every name is one of `allowed`.
    init(_ request: Request, allowed: Set<String>) throws {
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                let known = allowed.sorted().joined(separator: ", ")
                throw Problem.invalidParameter(name, "unknown parameter; this endpoint takes \(known)")
            }
            values[name, default: []].append(String(value))
        }
    }

    /// The value of a single-valued parameter (nil when absent; an empty value counts as absent).
    func single(_ name: String) throws -> String? {
        guard let list = values[name] else { return nil }
        guard list.count == 1 else { throw Problem.invalidParameter(name, "given more than once") }
        return list[0].isEmpty ? nil : list[0]
    }

    /// Every value of a repeatable parameter, each also split at commas when `commas` is set.
    func all(_ name: String, commas: Bool = false) -> [String] {
        let list = values[name] ?? []
        let split = commas ? list.flatMap { $0.split(separator: ",").map(String.init) } : list
        return split.filter { !$0.isEmpty }
    }

    /// A time: RFC 3339 (`2025-05-01T00:00:00Z`) or a date (`2025-05-01`, midnight UTC).
    func time(_ name: String) throws -> Int64? {
        guard let text = try single(name) else { return nil }
        switch Timestamp.parse(text) {
        case let .success(ms): return ms
        case .failure:
            throw Problem.invalidParameter(name, "must be an RFC 3339 time such as 2025-05-01T00:00:00Z or a date such as 2025-05-01")
        }
    }

    /// An integer within `range`.
    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = try single(name) else { return nil }
        guard let v = Int(text), range.contains(v) else {
            throw Problem.invalidParameter(name, "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return v
    }

    /// One of the raw values of `T`.
    func choice<T: RawRepresentable & CaseIterable>(_ name: String, as: T.Type) throws -> T? where T.RawValue == String {
        guard let text = try single(name) else { return nil }
        guard let v = T(rawValue: text) else {
            throw Problem.invalidParameter(name, "must be one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return v
    }
}
