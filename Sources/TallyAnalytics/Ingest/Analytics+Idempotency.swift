import Crypto
import Synchronization

extension Analytics {
    /// Longest accepted `Idempotency-Key`.
    public static let maxIdempotencyKeyLength = 255

    /// Throws unless `key` is 1-255 visible ASCII characters.
    public static func checkIdempotencyKey(_ key: String) throws(AnalyticsError) {
        let bytes = key.utf8
        guard !bytes.isEmpty, bytes.count <= maxIdempotencyKeyLength, bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw .invalidParameter(name: "Idempotency-Key", reason: "must be 1 to \(maxIdempotencyKeyLength) visible ASCII characters")
        }
    }

    /// SHA-256 over the length-prefixed parts of a request (method, path, query, media type, body).
    public static func fingerprint(_ parts: [[UInt8]]) -> [UInt8] {
        var hasher = SHA256()
        for part in parts {
            var n = UInt64(part.count).littleEndian
            withUnsafeBytes(of: &n) { hasher.update(bufferPointer: $0) }
            hasher.update(data: part)
        }
        return Array(hasher.finalize())
    }

    /// Answers a request sent with an `Idempotency-Key` once: the first answer is made by `answer` and kept in the
    /// catalog for a day; a retry with the same key and request gets it back (`replayed`), a retry with another
    /// request is refused, and a retry while the first is still running gets a conflict.
    ///
    /// `scope` keeps tenants' keys apart (the tenant id, or `*` for admin keys). Errors `answer` throws are not kept.
    public func idempotent(
        scope: String, key: String, fingerprint: [UInt8],
        answer: () async throws -> IdempotentAnswer
    ) async throws -> (answer: IdempotentAnswer, replayed: Bool) {
        let token = scope + "\u{0}" + key
        guard inFlight.withLock({ $0.insert(token).inserted }) else {
            throw AnalyticsError.conflict(reason: "a request with this Idempotency-Key is still being answered; retry in a moment")
        }
        defer { _ = inFlight.withLock { $0.remove(token) } }
        let catalog = self.catalog
        let now = self.now
        if let stored = try await blocking({ try catalog.idempotentAnswer(scope: scope, key: key, now: now) }) {
            guard stored.fingerprint == fingerprint else { throw AnalyticsError.idempotencyKeyReused }
            return (stored, true)
        }
        var first = try await answer()
        first.fingerprint = fingerprint
        first.createdAt = now
        let kept = first
        // The records are durable already: failing to keep the answer only means a retry is answered anew
        // (as duplicates), so it must not fail this request.
        _ = try? await blocking { try catalog.saveIdempotentAnswer(scope: scope, key: key, answer: kept) }
        return (first, false)
    }
}
