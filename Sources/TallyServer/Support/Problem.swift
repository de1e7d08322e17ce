import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

/// An RFC 9457 problem: what the facade answers for every error, as `application/problem+json`.
///
/// `type` is a stable URN per kind of problem (clients switch on it); `detail` says what to change and
/// names the parameter when one is at fault. Texts never quote keys or record payloads.
struct Problem: Error, Sendable {
    /// The kinds of problem, each with its stable type and title.
    enum Kind: String, Sendable, CaseIterable {
        case invalidParameter = "invalid-parameter"
        case unauthorized
        case forbidden
        case notFound = "not-found"
        case methodNotAllowed = "method-not-allowed"
        case bodyTooLarge = "body-too-large"
        case unsupportedMediaType = "unsupported-media-type"
        case requestTimeout = "request-timeout"
        case invalidRecords = "invalid-records"
        case idempotencyKeyReused = "idempotency-key-reused"
        case idempotencyKeyInUse = "idempotency-key-in-use"
        case conflict
        case budgetExceeded = "budget-exceeded"
        case storageUnavailable = "storage-unavailable"
        case internalError = "internal-error"
        case upstreamUnreachable = "upstream-unreachable"
        case upstreamTimeout = "upstream-timeout"

        var type: String { "urn:tally:problem:" + rawValue }

        var status: HTTPResponse.Status {
            switch self {
            case .invalidParameter: .badRequest
            case .unauthorized: .unauthorized
            case .forbidden: .forbidden
            case .notFound: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .bodyTooLarge: .contentTooLarge
            case .unsupportedMediaType: .unsupportedMediaType
            case .requestTimeout: .requestTimeout
            case .invalidRecords, .idempotencyKeyReused: .unprocessableContent
            case .idempotencyKeyInUse, .conflict, .budgetExceeded: .conflict
            case .storageUnavailable: .serviceUnavailable
            case .internalError: .internalServerError
            case .upstreamUnreachable: .badGateway
            case .upstreamTimeout: .gatewayTimeout
            }
        }

        var title: String {
            switch self {
            case .invalidParameter: "Invalid parameter"
            case .unauthorized: "Missing or unknown API key"
            case .forbidden: "Not allowed for this key"
            case .notFound: "No such resource"
            case .methodNotAllowed: "Method not allowed"
            case .bodyTooLarge: "Request body too large"
            case .unsupportedMediaType: "Unsupported media type"
            case .requestTimeout: "Request body too slow"
            case .invalidRecords: "Invalid records"
            case .idempotencyKeyReused: "Idempotency key reused for a different request"
            case .idempotencyKeyInUse: "Idempotency key in use"
            case .conflict: "Conflicts with an existing resource"
            case .budgetExceeded: "Would exceed an enforced budget"
            case .storageUnavailable: "Storage unavailable"
            case .internalError: "Internal error"
            case .upstreamUnreachable: "Provider unreachable"
            case .upstreamTimeout: "Provider did not answer in time"
            }
        }
    }

    var kind: Kind
    var detail: String
    /// The query parameter or header at fault, if any.
    var parameter: String?
    /// Extra members (e.g. the receipt of rejected records), already JSON-encodable.
    var receipt: IngestReceipt?
    /// The budgets a refused reservation would exceed.
    var exceededBudgets: [ReservationCheck]?

    init(_ kind: Kind, _ detail: String, parameter: String? = nil, receipt: IngestReceipt? = nil) {
        self.kind = kind
        self.detail = detail
        self.parameter = parameter
        self.receipt = receipt
    }

    static func invalidParameter(_ name: String, _ reason: String) -> Problem {
        Problem(.invalidParameter, "\(name): \(reason)", parameter: name)
    }

    /// The problem for any error a handler throws.
    init(_ error: any Error) {
        switch error {
        case let p as Problem:
            self = p
        case let e as AnalyticsError:
            switch e {
            case let .invalidParameter(name, reason): self = .invalidParameter(name, reason)
            case let .forbidden(reason): self.init(.forbidden, reason)
            case let .notFound(reason): self.init(.notFound, reason)
            case let .alreadyExists(reason): self.init(.conflict, reason)
            case let .invalidTransition(reason): self.init(.conflict, reason)
            case let .budgetExceeded(denied):
                self.init(.budgetExceeded, denied.reason)
                exceededBudgets = denied.checks
            case let .storage(text): self.init(.storageUnavailable, text)
            }
        case let e as QueryError:
            self.init(AnalyticsError.invalidParameter(name: "query", reason: e.description))
        case let e as StoreError:
            self.init(.storageUnavailable, e.description)
        case let e as HTTPError:
            switch e.status {
            case .notFound: self.init(.notFound, "no route matches this method and path; see /api/v1/analytics/openapi.json")
            case .methodNotAllowed: self.init(.methodNotAllowed, "this path does not take this method")
            case .contentTooLarge: self.init(.bodyTooLarge, e.body ?? "the request body is too large")
            case .unauthorized: self.init(.unauthorized, e.body ?? "missing or unknown API key")
            default: self.init(.internalError, "the request could not be answered (\(e.status.code))")
            }
        default:
            self.init(.internalError, "the server failed to answer; the failure was logged")
        }
    }

    /// The `application/problem+json` response.
    func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if kind == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"tally\"" }
        return Response(status: kind.status, headers: headers, body: .init(byteBuffer: encodedBody()))
    }

    /// The JSON body: RFC 9457's members, then `parameter`, and for rejected records `errors` and the whole `receipt`.
    func encodedBody() -> ByteBuffer {
        var w = JSONWriter(capacity: 512)
        w.object { w in
            w.field("type", kind.type)
            w.field("title", kind.title)
            w.field("status", Int(kind.status.code))
            w.field("detail", detail)
            if let parameter { w.field("parameter", parameter) }
            if let exceededBudgets {
                w.field("budget_ids", strings: exceededBudgets.map(\.budgetID))
                w.field("remaining_cents", cents: exceededBudgets.map(\.remainingNanos).min() ?? 0)
                w.field("budgets", array: exceededBudgets)
            }
            if let receipt {
                w.field("errors", array: receipt.errors.map(IngestReceipt.ErrorEntry.init))
                w.field("receipt", receipt)
            }
        }
        return ByteBuffer(bytes: w.bytes)
    }
}
