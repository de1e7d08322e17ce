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

    /// The defaults.
    public init() {}
}
