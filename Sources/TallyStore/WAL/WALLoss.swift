/// A damaged byte range of a WAL segment that replay found, and what it cost.
///
/// Replay writes each one to `quarantine/wal-<segment>-<start>-<end>.loss` (with a copy of the damaged bytes beside
/// it), and `Store` reads those files back on every open and every health check, so a loss stays visible
/// after the segment is trimmed and across restarts until an operator removes the file.
public struct WALLoss: Sendable, Equatable, CustomStringConvertible {
    /// The segment number.
    public var segment: UInt64
    /// First byte lost: the end of the last intact commit frame before the damage (or of the segment header).
    public var start: Int
    /// Where replay resumed (the strings frame of the next intact batch), or the segment's end.
    public var end: Int
    /// Offset of the first frame that failed.
    public var damagedAt: Int
    /// Why that frame failed (`frame checksum mismatch`, `bad segment header`, ...).
    public var reason: String
    /// Acknowledged batches lost in the range: from the intact commit frames found in it, plus one for a batch
    /// whose commit frame is itself damaged.
    public var batches: Int
    /// Records of those batches: the counts of their intact commit frames, or the intact record frames seen.
    public var records: Int
    /// Whether `batches` and `records` are exact (every lost batch's commit frame was intact), or lower bounds.
    public var exact: Bool
    /// Whether the range was cut from the end of the log (a damaged tail) rather than skipped in place.
    public var cut: Bool
    /// The file under `quarantine/` holding a copy of the damaged bytes, when one was written.
    public var copy: String?
    /// When replay first found it (ms since the epoch), when known.
    public var detectedAt: Int64?

    public init(segment: UInt64, start: Int, end: Int, damagedAt: Int, reason: String, batches: Int, records: Int,
                exact: Bool, cut: Bool, copy: String? = nil, detectedAt: Int64? = nil) {
        self.segment = segment
        self.start = start
        self.end = end
        self.damagedAt = damagedAt
        self.reason = reason
        self.batches = batches
        self.records = records
        self.exact = exact
        self.cut = cut
        self.copy = copy
        self.detectedAt = detectedAt
    }

    /// The segment's file name (`<16 hex>.wal`).
    public var segmentFile: String { Self.segmentFile(segment) }

    /// The name of the loss record under `quarantine/`: one per damaged range, so finding it again writes nothing.
    public var recordName: String { "wal-" + Self.hex16(segment) + "-" + String(start) + "-" + String(end) + ".loss" }

    public var description: String {
        let bound = exact ? "" : "at least "
        var s = "WAL segment \(segmentFile) bytes \(start)..<\(end) damaged (\(reason) at offset \(damagedAt)): "
            + "\(bound)\(batches) batch\(batches == 1 ? "" : "es"), \(bound)\(records) record\(records == 1 ? "" : "s") lost"
        s += cut ? "; cut from the end of the log" : "; replay resumed after it"
        if let copy { s += "; damaged bytes kept in quarantine/\(copy)" }
        return s
    }

    static func hex16(_ v: UInt64) -> String {
        let hex = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }

    static func segmentFile(_ segment: UInt64) -> String { hex16(segment) + ".wal" }

    /// The loss record: one `key=value` line per field, so a person can read it with `cat`.
    package func encode() -> [UInt8] {
        var lines = [
            "segment=\(segment)", "start=\(start)", "end=\(end)", "damaged_at=\(damagedAt)",
            "reason=\(reason.replacingNewlines)", "batches=\(batches)", "records=\(records)",
            "exact=\(exact)", "cut=\(cut)",
        ]
        if let copy { lines.append("copy=\(copy)") }
        if let detectedAt { lines.append("detected_at_ms=\(detectedAt)") }
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    /// Reads a loss record back. A record that does not parse still stands for a loss: it is returned with
    /// what could be read and a reason that names the file, never dropped.
    static func decode(_ bytes: [UInt8], name: String) -> WALLoss {
        var fields: [Substring: Substring] = [:]
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[line[..<eq]] = line[line.index(after: eq)...]
        }
        func int(_ k: Substring) -> Int? { fields[k].flatMap { Int($0) } }
        guard let segment = fields["segment"].flatMap({ UInt64($0) }), let start = int("start"), let end = int("end"),
              let batches = int("batches"), let records = int("records")
        else {
            return WALLoss(segment: 0, start: 0, end: 0, damagedAt: 0, reason: "unreadable loss record quarantine/\(name)",
                           batches: 0, records: 0, exact: false, cut: false)
        }
        return WALLoss(segment: segment, start: start, end: end, damagedAt: int("damaged_at") ?? start,
                       reason: fields["reason"].map(String.init) ?? "unknown", batches: batches, records: records,
                       exact: fields["exact"] == "true", cut: fields["cut"] == "true", copy: fields["copy"].map(String.init),
                       detectedAt: fields["detected_at_ms"].flatMap { Int64($0) })
    }

    /// Loss records under `quarantine` (`wal-*.loss`), by name.
    package static func recorded(in quarantine: String) -> [String: WALLoss] {
        var out: [String: WALLoss] = [:]
        for name in FileIO.list(quarantine) where name.hasPrefix("wal-") && name.hasSuffix(".loss") {
            guard let bytes = try? FileIO.readAll(quarantine + "/" + name) else {
                out[name] = WALLoss(segment: 0, start: 0, end: 0, damagedAt: 0, reason: "unreadable loss record quarantine/\(name)",
                                    batches: 0, records: 0, exact: false, cut: false)
                continue
            }
            out[name] = decode(bytes, name: name)
        }
        return out
    }
}

extension String {
    fileprivate var replacingNewlines: String { String(map { $0 == "\n" || $0 == "\r" ? " " : $0 }) }
}
