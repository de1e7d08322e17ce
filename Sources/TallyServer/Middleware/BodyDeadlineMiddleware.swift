import Hummingbird
import NIOCore

/// Bounds the time a request body may take to arrive: a chunk that arrives after the deadline fails the read
/// with a 408 `request-timeout` problem.
///
/// Together with the server's idle timeout this drops slow clients: a client that sends nothing for
/// `idleTimeoutSeconds` (headers never finished, or a body stalled) is disconnected by the idle timeout; one
/// that keeps trickling bytes to defeat it fails here once `bodyTimeoutSeconds` have passed.
struct BodyDeadlineMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    /// Seconds from the start of the request; 0 or less turns the deadline off.
    let seconds: Double

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard seconds > 0 else { return try await next(request, context) }
        var request = request
        request.body = RequestBody(asyncSequence: DeadlineBody(base: request.body, seconds: seconds,
                                                               deadline: .now + .milliseconds(Int64(seconds * 1000))))
        return try await next(request, context)
    }
}

/// A request body whose chunks must arrive before `deadline`.
struct DeadlineBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let seconds: Double
    let deadline: ContinuousClock.Instant

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let seconds: Double
        let deadline: ContinuousClock.Instant

        mutating func next() async throws -> ByteBuffer? {
            let chunk = try await base.next()
            if chunk != nil, ContinuousClock.now > deadline {
                throw Problem(.requestTimeout, "the request body took longer than \(Int(seconds)) s to arrive; send it faster or in smaller batches")
            }
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), seconds: seconds, deadline: deadline)
    }
}
