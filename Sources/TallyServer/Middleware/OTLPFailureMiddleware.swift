import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TallyOTLP

/// The failures of the OTLP routes as OTLP/HTTP wants them: the HTTP status of the problem, a `google.rpc.Status`
/// body in the request's encoding (JSON when the request's `Content-Type` is neither OTLP encoding), and
/// `Retry-After` on the statuses a client retries (429 and 503; the specification's "Throttling").
///
/// Outside `AuthMiddleware`, so a missing or unknown key gets the same kind of body.
struct OTLPFailureMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    /// Seconds a 429 asks the client to wait.
    static let throttledRetryAfter = 1
    /// Seconds a 503 asks the client to wait.
    static let unavailableRetryAfter = 5

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let encoding = request.headers[.contentType].flatMap(OTLPEncoding.init(contentType:)) ?? .json
            let (status, code, message) = Self.describe(error)
            if status.code >= 500 {
                context.logger.error("OTLP export failed", metadata: ["error.type": "\(type(of: error))", "error": "\(error)"])
            }
            var headers: HTTPFields = [.contentType: encoding.mediaType]
            if status == .tooManyRequests { headers[.retryAfter] = String(Self.throttledRetryAfter) }
            if status == .serviceUnavailable { headers[.retryAfter] = String(Self.unavailableRetryAfter) }
            if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"tally\"" }
            let body = OTLPStatus.body(code: code, message: message, encoding: encoding)
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    /// The HTTP status, gRPC code and message of a failure.
    static func describe(_ error: any Error) -> (HTTPResponse.Status, Int32, String) {
        switch error {
        case let e as OTLPDecodingError:
            return (.badRequest, OTLPStatus.invalidArgument, e.description)
        case let t as OTLPThrottled:
            return (.tooManyRequests, OTLPStatus.resourceExhausted, t.message)
        default:
            let problem = Problem(error)
            let code: Int32 = switch problem.kind {
            case .unauthorized: OTLPStatus.unauthenticated
            case .forbidden: OTLPStatus.permissionDenied
            case .bodyTooLarge: OTLPStatus.resourceExhausted
            case .storageUnavailable: OTLPStatus.unavailable
            case .internalError: OTLPStatus.internal
            case .notFound, .methodNotAllowed: OTLPStatus.unimplemented
            default: OTLPStatus.invalidArgument
            }
            return (problem.kind.status, code, problem.detail)
        }
    }
}

/// The answer to an export beyond `ServerConfiguration.otlpMaxConcurrentExports`: 429 with `Retry-After`.
struct OTLPThrottled: Error {
    var message: String
}
