/// The wire formats a body of cost records can arrive in (DESIGN.md section 2).
public enum InputFormat: String, Sendable, CaseIterable {
    /// RFC 4180 CSV with a header row of contract field names.
    case csv
    /// One JSON object per line; blank lines are skipped.
    case ndjson
    /// One JSON array of objects.
    case json

    /// The format of a media type such as `application/x-ndjson; charset=utf-8`, if it is one of ours.
    public init?(mediaType: String) {
        let base = mediaType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
        switch base {
        case "text/csv", "application/csv": self = .csv
        case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines": self = .ndjson
        case "application/json": self = .json
        default: return nil
        }
    }

    /// The format a file name's extension suggests (`.csv`, `.ndjson`/`.jsonl`, `.json`).
    public init?(fileName: String) {
        guard let dot = fileName.lastIndex(of: ".") else { return nil }
        switch fileName[fileName.index(after: dot)...].lowercased() {
        case "csv": self = .csv
        case "ndjson", "jsonl": self = .ndjson
        case "json": self = .json
        default: return nil
        }
    }
}

extension Substring {
    fileprivate func trimmingASCIISpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
