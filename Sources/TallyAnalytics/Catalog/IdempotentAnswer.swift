/// The first answer to a request sent with an `Idempotency-Key`, kept so a retry gets the same answer.
public struct IdempotentAnswer: Sendable, Equatable {
    /// SHA-256 of what identifies the request (method, path, query, content type, body).
    public var fingerprint: [UInt8]
    /// HTTP status of the first answer.
    public var status: Int
    /// Its media type.
    public var contentType: String
    /// Its body.
    public var body: [UInt8]
    /// When it was first answered, ms UTC.
    public var createdAt: Int64

    /// An answer.
    public init(fingerprint: [UInt8], status: Int, contentType: String, body: [UInt8], createdAt: Int64) {
        self.fingerprint = fingerprint
        self.status = status
        self.contentType = contentType
        self.body = body
        self.createdAt = createdAt
    }
}
