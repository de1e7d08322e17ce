import Foundation
import TallyQuery
import TallyStore
import TallyText

/// What an export holds.
public enum ExportKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// The cost records themselves, in the ingestion wire format (an export re-imports to the same totals).
    case records
    /// The usage series: one row per hour or day bucket.
    case usage
    /// A cost breakdown: one row per group (and bucket, with a resolution).
    case cost
}

/// The file format of an export.
public enum ExportFormat: String, Sendable, Hashable, CaseIterable, Codable {
    /// CSV with a header row.
    case csv
    /// One JSON object per line.
    case ndjson
    /// One JSON array of objects.
    case json

    /// The file name extension.
    public var fileExtension: String { rawValue }

    /// The media type of the download.
    public var mediaType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .ndjson: "application/x-ndjson"
        case .json: "application/json"
        }
    }
}

/// The state of an export.
public enum ExportStatus: String, Sendable, Hashable, CaseIterable {
    /// Accepted, not started.
    case pending
    /// Being written.
    case running
    /// Written; downloadable until it expires.
    case ready
    /// Writing failed (`error` says why); nothing to download.
    case failed
    /// Past `expires_at`: its file is deleted.
    case expired
}

/// What to export: the kind, the format, the tenant's window and filters, and for aggregates how to group.
///
/// Stored with the export (as JSON) and echoed in its status.
public struct ExportSpec: Sendable, Hashable, Codable {
    public var kind: ExportKind
    public var format: ExportFormat
    /// Inclusive start, ms UTC.
    public var from: Int64
    /// Exclusive end, ms UTC.
    public var to: Int64
    /// Allowed values per dimension field name (`feature_tag`, `user_id`, ...).
    public var filters: [String: [String]]
    /// Group keys of a cost export, by field name (default `feature_tag`).
    public var groupBy: [String]
    /// Bucket width of a usage export (default day) or of a cost export's rows (none by default).
    public var resolution: Resolution?

    /// A spec; call `validated()` before use.
    public init(kind: ExportKind, format: ExportFormat, from: Int64, to: Int64, filters: [String: [String]] = [:],
                groupBy: [String] = [], resolution: Resolution? = nil) {
        self.kind = kind
        self.format = format
        self.from = from
        self.to = to
        self.filters = filters
        self.groupBy = groupBy
        self.resolution = resolution
    }

    /// The filters by dimension.
    public var dimensionFilters: [TallyStore.Dimension: [String]] {
        var out: [TallyStore.Dimension: [String]] = [:]
        for (name, values) in filters {
            if case let .dimension(d)? = Query.Key(name: name) { out[d] = values }
        }
        return out
    }

    /// The group keys.
    public var keys: [Query.Key] { groupBy.compactMap { Query.Key(name: $0) } }

    /// Checks every field and returns the spec in canonical form (field names for filters and keys, defaults filled in).
    public func validated() throws(AnalyticsError) -> ExportSpec {
        var s = self
        guard from < to else {
            throw .invalidParameter(name: "from", reason: "must be before to (\(rfc3339(from)) >= \(rfc3339(to)))")
        }
        guard abs(from) <= Query.maxAbsoluteTime, abs(to) <= Query.maxAbsoluteTime else {
            throw .invalidParameter(name: "to", reason: "out of range")
        }
        var filters: [String: [String]] = [:]
        for (name, values) in self.filters {
            guard case let .dimension(d)? = Query.Key(name: name) else {
                throw .invalidParameter(
                    name: "filters", reason: "unknown dimension \(name); use project_id, environment, user_id, feature_tag, "
                        + "workflow_id, skill_id or model")
            }
            guard !values.isEmpty, values.count <= 1_000 else {
                throw .invalidParameter(name: "filters", reason: "\(d.fieldName) needs 1 to 1000 values")
            }
            filters[d.fieldName, default: []].append(contentsOf: values)
        }
        s.filters = filters
        switch kind {
        case .records:
            if !groupBy.isEmpty { throw .invalidParameter(name: "group_by", reason: "only for kind usage or cost") }
            if resolution != nil { throw .invalidParameter(name: "resolution", reason: "only for kind usage or cost") }
        case .usage:
            if !groupBy.isEmpty { throw .invalidParameter(name: "group_by", reason: "only for kind cost") }
            s.resolution = resolution ?? .day
        case .cost:
            var keys: [String] = []
            for name in groupBy {
                guard let key = Query.Key(name: name), key != .tenant else {
                    throw .invalidParameter(
                        name: "group_by", reason: "unknown key \(name); use feature, user, model, project, environment, workflow or skill")
                }
                guard !keys.contains(key.fieldName) else { throw .invalidParameter(name: "group_by", reason: "a key appears twice") }
                keys.append(key.fieldName)
            }
            s.groupBy = keys.isEmpty ? [TallyStore.Dimension.feature.fieldName] : keys
        }
        return s
    }

    /// The spec as stored: compact JSON.
    package var storedJSON: String {
        let data = (try? JSONEncoder().encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// A spec read back from `storedJSON`.
    package static func fromStored(_ text: String) -> ExportSpec? {
        try? JSONDecoder().decode(ExportSpec.self, from: Data(text.utf8))
    }
}

/// An export as the catalog keeps it.
public struct Export: Sendable, Hashable {
    /// `exp_` and 24 hex digits.
    public var id: String
    public var tenant: String
    public var spec: ExportSpec
    public var status: ExportStatus
    /// The file name under the exports directory.
    public var file: String
    /// Rows written (when ready).
    public var rows: Int64
    /// Bytes of the file (when ready).
    public var bytes: Int64
    /// Why it failed.
    public var error: String?
    /// The key that asked for it.
    public var createdBy: String
    public var createdAt: Int64
    public var completedAt: Int64?
    public var expiresAt: Int64

    /// An export record.
    public init(id: String, tenant: String, spec: ExportSpec, status: ExportStatus, file: String, rows: Int64, bytes: Int64,
                error: String?, createdBy: String, createdAt: Int64, completedAt: Int64? = nil, expiresAt: Int64) {
        self.id = id
        self.tenant = tenant
        self.spec = spec
        self.status = status
        self.file = file
        self.rows = rows
        self.bytes = bytes
        self.error = error
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.expiresAt = expiresAt
    }

    /// The view the API shows, with the download address the facade serves it at.
    public func view(downloadURL: String?) -> ExportView { ExportView(export: self, downloadURL: downloadURL) }
}

/// `{ id, tenant_id, status, download_url, expires_at, ... }`: an export as the API shows it.
public struct ExportView: Sendable {
    public var export: Export
    /// Where to download it (only while ready).
    public var downloadURL: String?
}

extension Resolution: Codable {}
