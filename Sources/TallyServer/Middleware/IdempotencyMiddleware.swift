import Crypto
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import TallyAnalytics

extension HTTPField.Name {
    /// `Idempotency-Key`: makes a retried request a no-op that gets the first answer.
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// `Idempotent-Replayed: true` marks an answer given before.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

/// Answers a request sent with an `Idempotency-Key` once: the first answer the route returns (status, content type,
/// body) is kept in the catalog for a day; a retry with the same key and request gets it back with
/// `Idempotent-Replayed: true`, a retry with another request is a 422, and a retry while the first is still being
/// answered is a 409. Requests without the header pass through untouched.
///
/// Keys are kept per tenant (`*` for admin keys). Errors the route throws are not kept: only what it returns. The
/// request is identified by its method, path, query, media type, content encoding and (decompressed) body; the
/// route gets the body already read and decompressed.
struct IdempotencyMiddleware: RouterMiddleware {
    typealias Context = AuthenticatedContext
    /// Longest accepted `Idempotency-Key`.
    static let maxKeyLength = 255

    let analytics: Analytics
    /// What the routes need the key to be allowed to do: checked first, so a key without the right gets its 403
    /// rather than an answer kept for another key of its tenant.
    let action: AccessPolicy.Action
    /// Largest body read to identify the request (the route's own limit).
    let maxBodyBytes: Int
    /// Keys being answered now (`scope NUL key`).
    let inFlight: InFlightKeys

    init(analytics: Analytics, action: AccessPolicy.Action, maxBodyBytes: Int) {
        self.analytics = analytics
        self.action = action
        self.maxBodyBytes = maxBodyBytes
        self.inFlight = InFlightKeys()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key = request.headers[.idempotencyKey] else { return try await next(request, context) }
        try AccessPolicy.check(action, context.principal)
        try Self.check(key)
        let body = try await RequestBodyReader.buffer(request, limit: maxBodyBytes)
        let fingerprint = Self.fingerprint(request, body: body)
        let scope = context.principal.tenant ?? "*"
        let token = scope + "\u{0}" + key
        guard inFlight.claim(token) else {
            throw Problem(.idempotencyKeyInUse, "a request with this Idempotency-Key is still being answered; retry in a moment",
                          parameter: "Idempotency-Key")
        }
        defer { inFlight.release(token) }
        let catalog = analytics.catalog
        let now = analytics.now
        if let stored = try await analytics.blocking({ try catalog.idempotentAnswer(scope: scope, key: key, now: now) }) {
            guard stored.fingerprint == fingerprint else {
                throw Problem(.idempotencyKeyReused, "this Idempotency-Key was first used for a different request; use a new key per batch",
                              parameter: "Idempotency-Key")
            }
            return Response(status: HTTPResponse.Status(code: stored.status),
                            headers: [.contentType: stored.contentType, .idempotentReplayed: "true"],
                            body: .init(byteBuffer: ByteBuffer(bytes: stored.body)))
        }

        // The route reads the body read here: as it is, no longer compressed.
        var head = request.head
        head.headerFields[.contentEncoding] = nil
        head.headerFields[.contentLength] = String(body.readableBytes)
        let response = try await next(Request(head: head, body: RequestBody(buffer: body)), context)
        let collected = CollectingWriter()
        try await response.body.write(collected)
        let answer = IdempotentAnswer(
            fingerprint: fingerprint, status: Int(response.status.code), contentType: response.headers[.contentType] ?? "",
            body: Array(collected.buffer.readableBytesView), createdAt: now)
        // What the route did is done (records are durable): failing to keep the answer only means a retry is
        // answered anew (as duplicates), so it must not fail this request.
        _ = try? await analytics.blocking { try catalog.saveIdempotentAnswer(scope: scope, key: key, answer: answer) }
        var first = response
        first.body = .init(byteBuffer: collected.buffer)
        return first
    }

    /// Throws unless `key` is 1-255 visible ASCII characters.
    static func check(_ key: String) throws {
        let bytes = key.utf8
        guard !bytes.isEmpty, bytes.count <= maxKeyLength, bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw Problem.invalidParameter("Idempotency-Key", "must be 1 to \(maxKeyLength) visible ASCII characters")
        }
    }

    /// SHA-256 over the length-prefixed method, path, query, media type, content encoding and body.
    static func fingerprint(_ request: Request, body: ByteBuffer) -> [UInt8] {
        var hasher = SHA256()
        func add(_ part: some Collection<UInt8>) {
            var n = UInt64(part.count).littleEndian
            withUnsafeBytes(of: &n) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(part))
        }
        add(request.method.rawValue.utf8)
        add(request.uri.path.utf8)
        add((request.uri.query ?? "").utf8)
        add((request.headers[.contentType] ?? "").utf8)
        add((request.headers[.contentEncoding] ?? "").utf8)
        var n = UInt64(body.readableBytes).littleEndian
        withUnsafeBytes(of: &n) { hasher.update(bufferPointer: $0) }
        body.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        return Array(hasher.finalize())
    }
}

/// The idempotency keys being answered now, shared by every request through one `IdempotencyMiddleware`.
final class InFlightKeys: Sendable {
    private let tokens = Mutex(Set<String>())

    /// Whether `token` was free (and is now taken).
    func claim(_ token: String) -> Bool { tokens.withLock { $0.insert(token).inserted } }

    func release(_ token: String) { _ = tokens.withLock { $0.remove(token) } }
}

/// Gathers a response body into one buffer (the answers kept for idempotency are small JSON documents); a class,
/// because the body consumes the writer it is given.
final class CollectingWriter: ResponseBodyWriter {
    private(set) var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws {
        var chunk = buffer
        self.buffer.writeBuffer(&chunk)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
