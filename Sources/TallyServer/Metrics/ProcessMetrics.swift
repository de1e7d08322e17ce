import Glibc
import Prometheus
import Synchronization
import TallyStore

/// The standard process metrics of Prometheus client libraries (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
/// `process_start_time_seconds`), read from /proc/self when `/metrics` is scraped.
enum ProcessMetrics {
    /// Sets the process gauges; `cpuCounted` is the CPU time already added to the counter (the kernel keeps the total:
    /// the counter grows by the difference).
    static func update(_ registry: PrometheusCollectorRegistry, cpuCounted: borrowing Mutex<Double>) {
        func gauge(_ name: String, _ unit: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "process", metricName: name, unitName: unit, helpText: help))
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = read("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24 (1-based).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
            if let user = field(14), let system = field(15) {
                let total = (user + system) / ticks
                let counter = registry.makeCounter(descriptor: MetricNameDescriptor(
                    namespace: "process", metricName: "cpu_seconds", unitName: "total", helpText: "Total user and system CPU time spent in seconds."))
                let added = cpuCounted.withLock { counted in
                    defer { counted = max(counted, total) }
                    return max(0, total - counted)
                }
                if added > 0 { counter.increment(by: added) }
            }
            if let vsize = field(23) { gauge("virtual_memory", "bytes", "Virtual memory size in bytes.").set(vsize) }
            if let rss = field(24) { gauge("resident_memory", "bytes", "Resident memory size in bytes.").set(rss * pageSize) }
            if let start = field(22), let boot = bootTime() {
                gauge("start_time", "seconds", "Start time of the process since unix epoch in seconds.").set(boot + start / ticks)
            }
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            gauge("max_fds", "", "Maximum number of open file descriptors.").set(Double(limit.rlim_cur))
        }
        if let dir = opendir("/proc/self/fd") {
            var n = 0
            while readdir(dir) != nil { n += 1 }
            closedir(dir)
            gauge("open_fds", "", "Number of open file descriptors.").set(Double(max(0, n - 3)))  // ".", "..", and the one opendir holds
        }
    }

    /// Seconds since the epoch at boot (`btime` of /proc/stat).
    static func bootTime() -> Double? {
        guard let stat = read("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).split(separator: " ").first ?? "")
        }
        return nil
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        return (try? FileIO.readToEnd(fd, path: path)).map { String(decoding: $0, as: UTF8.self) }
    }
}
