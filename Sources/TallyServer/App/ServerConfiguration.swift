import TallyOTLP

/// Settings of the HTTP facade.
public struct ServerConfiguration: Sendable {
    /// Address to bind.
    public var host = "127.0.0.1"
    /// Port to bind (0 = any free port).
    public var port = 8080
    /// Largest accepted request body, in bytes (after gzip decompression too).
    public var maxBodyBytes = 16 << 20
    /// Seconds a connection may sit idle before the server closes it (slow or abandoned clients hold no socket forever).
    public var idleTimeoutSeconds = 60
    /// Seconds a request body may take to arrive in full: a client trickling bytes (slowloris) gets a 408.
    public var bodyTimeoutSeconds: Double = 60
    /// Seconds between anomaly detection runs over every tenant in the background (`--detect-interval`); 0 disables them.
    public var detectIntervalSeconds: Double = 600
    /// Seconds between passes over the incident webhook deliveries that are due.
    public var deliveryPollSeconds: Double = 5
    /// Seconds between sweeps of expired and interrupted exports.
    public var exportSweepSeconds: Double = 60
    /// Seconds between purges of reservations past their retention.
    public var reservationPurgeSeconds: Double = 3_600
    /// Seconds a background job's lease lasts at least (`--job-lease-seconds`; at least two of the job's intervals): how
    /// long the other nodes wait before taking over a job whose node died.
    public var jobLeaseSeconds: Double = 30
    /// Which span and resource attributes fill which record field on the OTLP routes (`--otlp-mapping FILE`).
    public var otlpMapping = SpanMapping.standard
    /// OTLP exports in progress at once; beyond it an export is answered 429 with `Retry-After`.
    public var otlpMaxConcurrentExports = 16
    /// Seconds between attempts to store the proxy's spooled records (see `ProxyRecorder`).
    public var proxySpoolRetrySeconds: Double = 5

    /// The defaults.
    public init() {}
}
