import ArgumentParser
import Foundation
import Logging
import TallyAnalytics
import TallyServer

/// `tally serve`'s provider proxy (`/proxy/openai/...`, `/proxy/anthropic/...`): `--proxy-upstream KIND=URL`
/// (repeatable) or `TALLY_PROXY_UPSTREAMS=KIND=URL[,KIND=URL]`; without either the proxy is off.
struct ProxyOptions: ParsableArguments {
    @Option(name: .customLong("proxy-upstream"),
            help: "Proxy provider calls: openai=URL or anthropic=URL (repeatable), e.g. openai=https://api.openai.com. Default: $TALLY_PROXY_UPSTREAMS (comma-separated).")
    var upstreamOptions: [String] = []

    @Option(name: .customLong("proxy-spool"), help: "Directory of the proxy's spool of records not stored yet (default: DIR/proxy-spool). Default: $TALLY_PROXY_SPOOL.")
    var spoolOption: String?

    @Option(name: .customLong("proxy-timeout"), help: "Seconds a proxied call (its streamed answer included) may take.")
    var timeout: Double = 600

    private static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The upstreams, by kind.
    func upstreams() throws -> [ProviderKind: String] {
        var entries = upstreamOptions
        if entries.isEmpty, let env = Self.environment["TALLY_PROXY_UPSTREAMS"] {
            entries = env.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var out: [ProviderKind: String] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let kind = ProviderKind(rawValue: parts[0].lowercased()) else {
                throw ValidationError("--proxy-upstream takes KIND=URL with KIND one of \(ProviderKind.allCases.map(\.rawValue).joined(separator: ", ")): \(entry)")
            }
            guard parts[1].hasPrefix("http://") || parts[1].hasPrefix("https://") else {
                throw ValidationError("--proxy-upstream \(kind.rawValue)= needs an http:// or https:// URL")
            }
            guard out[kind] == nil else { throw ValidationError("--proxy-upstream names \(kind.rawValue) twice") }
            out[kind] = parts[1]
        }
        return out
    }

    func validate() throws {
        _ = try upstreams()
        guard timeout >= 1 && timeout <= 86_400 else { throw ValidationError("--proxy-timeout must be 1 to 86400 seconds") }
    }

    /// The proxy of `tally serve`, nil when no upstream is configured.
    func setup(analytics: Analytics, data: String, logger: Logger) throws -> ProxySetup? {
        let upstreams = try upstreams()
        guard !upstreams.isEmpty else { return nil }
        let directory = spoolOption ?? Self.environment["TALLY_PROXY_SPOOL"] ?? (data + "/proxy-spool")
        let recorder = ProxyRecorder(analytics: analytics, spool: try RecordSpool(directory: directory), logger: logger)
        return ProxySetup(upstreams: upstreams, recorder: recorder, client: ProxySetup.makeClient(), timeoutSeconds: timeout)
    }
}
