import Hummingbird
import Logging

/// Turns every error a handler throws into an `application/problem+json` response; unexpected ones are logged.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Problem(error)
            if problem.kind == .internalError || problem.kind == .storageUnavailable {
                // The error type only: its text may hold paths, never a payload, but keep logs lean.
                context.logger.error("request failed", metadata: ["error.type": "\(type(of: error))", "error": "\(error)"])
            }
            return problem.response()
        }
    }
}
