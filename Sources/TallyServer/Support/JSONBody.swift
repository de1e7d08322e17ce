import Foundation
import HTTPTypes
import Hummingbird

/// A JSON object request body read strictly: a member not in `allowed`, or of the wrong JSON type, is a
/// 400 problem naming it. Values are checked by the analytics services; this only checks JSON types.
struct JSONBody {
    /// One member's value, by JSON type (numbers as `Double`: only ratios are numbers; money is a string).
    enum Value: Decodable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
        /// An array of strings (a list of addresses).
        case strings([String])
        case container

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else if let s = try? c.decode(String.self) {
                self = .string(s)
            } else if let list = try? c.decode([String].self) {
                self = .strings(list)
            } else {
                self = .container
            }
        }

        var typeName: String {
            switch self {
            case .string: "a string"
            case .number: "a number"
            case .bool: "a boolean"
            case .null: "null"
            case .strings: "an array"
            case .container: "an object or array"
            }
        }
    }

    private let members: [String: Value]

    /// Reads the body of `request` (`Content-Type: application/json`, at most `limit` bytes) as an object.
    static func read(_ request: Request, limit: Int, allowed: Set<String>) async throws -> JSONBody {
        let mediaType = request.headers[.contentType]?.split(separator: ";").first.map { String($0).trimmingASCIIWhitespace().lowercased() }
        guard mediaType == "application/json" else {
            throw Problem(.unsupportedMediaType, "send the body as Content-Type: application/json", parameter: "Content-Type")
        }
        let bytes = try await RequestBodyReader.read(request, limit: limit)
        let members: [String: Value]
        do {
            members = try JSONDecoder().decode([String: Value].self, from: Data(bytes))
        } catch {
            throw Problem.invalidParameter("body", "must be a JSON object")
        }
        for name in members.keys where !allowed.contains(name) {
            throw Problem.invalidParameter(name, "unknown field; this endpoint takes " + allowed.sorted().joined(separator: ", "))
        }
        return JSONBody(members: members)
    }

    /// Whether the member is present (even as null).
    func isPresent(_ name: String) throws -> Bool { members[name] != nil }

    /// A string member (nil when absent or null).
    func string(_ name: String) throws -> String? {
        switch members[name] {
        case nil, .null?: return nil
        case let .string(s)?: return s
        case let other?: throw Problem.invalidParameter(name, "must be a string, not \(other.typeName)")
        }
    }

    /// A number member (nil when absent or null).
    func number(_ name: String) throws -> Double? {
        switch members[name] {
        case nil, .null?: return nil
        case let .number(d)?: return d
        case let other?: throw Problem.invalidParameter(name, "must be a number, not \(other.typeName)")
        }
    }

    /// An array-of-strings member (nil when absent or null).
    func strings(_ name: String) throws -> [String]? {
        switch members[name] {
        case nil, .null?: return nil
        case let .strings(list)?: return list
        case let other?: throw Problem.invalidParameter(name, "must be an array of strings, not \(other.typeName)")
        }
    }

    /// The names of the members present (null ones too).
    var names: Set<String> { Set(members.keys) }

    /// A boolean member (nil when absent or null).
    func bool(_ name: String) throws -> Bool? {
        switch members[name] {
        case nil, .null?: return nil
        case let .bool(b)?: return b
        case let other?: throw Problem.invalidParameter(name, "must be true or false, not \(other.typeName)")
        }
    }
}
