import Metrics
import Prometheus
import Synchronization

/// swift-metrics for the whole process, backed by a swift-prometheus registry: what libraries record through
/// swift-metrics (Hummingbird's `MetricsMiddleware`: `http_server_requests_total`, `http_server_request_duration_seconds`,
/// `http_server_active_requests`, `http_server_request_errors_total`) lands there and `/metrics` renders it.
///
/// `MetricsSystem.bootstrap` may run once per process: `tally serve` calls `bootstrap()` at start; tests call it too
/// (it is idempotent). Names follow Prometheus conventions: dots become underscores, counters end in `_total`,
/// durations in `_seconds`.
public enum TallyMetricsSystem {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The process registry, once bootstrapped.
    public static var registry: PrometheusCollectorRegistry? { state.withLock { $0 } }

    /// Bootstraps swift-metrics with a Prometheus registry, once; later calls return the same registry.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        state.withLock { current in
            if let current { return current }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.nameAndLabelSanitizer = { name, labels in
                (prometheusName(name), labels.map { (prometheusName($0.0), $0.1) })
            }
            MetricsSystem.bootstrap(factory)
            current = registry
            return registry
        }
    }

    /// Hummingbird's and other libraries' metric names in Prometheus form.
    static func prometheusName(_ name: String) -> String {
        switch name {
        case "hb.requests": return "http_server_requests_total"
        case "hb.request.errors": return "http_server_request_errors_total"
        case "http.server.request.duration": return "http_server_request_duration_seconds"
        default:
            return String(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        }
    }
}
