/// What went wrong with records the client accepted; given to `TallyClient.Configuration.onError`. Records the
/// server refused are never retried (sending them again would be refused again); the rest of the queue goes on.
public enum TallyClientError: Error, Sendable, Equatable {
    /// The server stored the batch but refused these records (each with the field and reason it gave). The batch's
    /// other records were stored.
    case recordsRejected([RejectedRecord])
    /// The server refused the whole batch with a 4xx other than 408, 409 and 429 (a bad or revoked key, 401/403; a
    /// body over its limit, 413; ...): `records` records were not stored. `problemType` and `detail` are its
    /// problem document's.
    case batchRejected(status: Int, problemType: String?, detail: String, records: Int)
    /// The batch could not be delivered after `attempts` attempts (connection errors, 5xx, 429): `records` records
    /// were not stored. `lastFailure` says what the last attempt got.
    case retriesExhausted(attempts: Int, lastFailure: String, records: Int)
}

/// A record the server refused: its `request_id`, and the field and reason the server gave.
public struct RejectedRecord: Sendable, Hashable {
    public var requestID: String
    public var field: String
    public var reason: String

    public init(requestID: String, field: String, reason: String) {
        self.requestID = requestID
        self.field = field
        self.reason = reason
    }
}
