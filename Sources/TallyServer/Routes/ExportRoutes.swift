import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyStore
import TallyText

/// Exports: accepted here, written in the background, polled, then downloaded as a file.
struct ExportRoutes: Sendable {
    typealias Context = AuthenticatedContext
    /// Chunks the download is read in: memory per download stays at a few of them whatever the size of the file.
    static let chunkBytes = 64 << 10
    let analytics: Analytics
    let fileIO: Hummingbird.FileIO

    func addRoutes(to group: RouterGroup<Context>) {
        group.post("reporting/exports", use: createExport)
        group.get("reporting/exports", use: listExports)
        group.get("reporting/exports/:id", use: getExport)
        group.get("reporting/exports/:id/download", use: downloadExport)
    }

    /// `POST reporting/exports`: accepts an export and writes it in the background; 202 with its status.
    ///
    /// Two forms: Tally's `{ kind, format, from, to, filters, group_by, resolution }` and the seed's
    /// `{ format, date_range: { start, end }, filters }`. `kind` defaults to `records` (the cost records themselves);
    /// the window defaults to the 30 days before `to` (or now).
    @Sendable func createExport(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let body = try await ExportBody.read(request, limit: JSONBody.smallLimit)
        let now = analytics.now
        let range = try body.window()
        let to = range.to ?? now
        let spec = ExportSpec(
            kind: try body.choice("kind", ExportKind.self, required: false) ?? ExportBody.defaultKind,
            format: try body.required("format", ExportFormat.self),
            from: range.from ?? to - 30 * TimeUnit.dayMillis, to: to, filters: try body.filters(),
            groupBy: try body.strings("group_by"), resolution: try body.choice("resolution", Resolution.self, required: false))
        let export = try await analytics.createExport(spec, tenantID: try body.string("tenant_id"), principal: context.principal)
        var response = JSONCoding.response(export.view(downloadURL: Self.downloadURL(export)), status: .accepted)
        response.headers[.location] = APIPath.root + "/reporting/exports/" + export.id
        return response
    }

    /// `GET reporting/exports`: the exports the key reaches, newest first.
    @Sendable func listExports(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        let exports = try await analytics.exports(tenantID: try q.single("tenant_id"), principal: context.principal)
        return JSONCoding.response(ExportList(exports: exports.map { $0.view(downloadURL: Self.downloadURL($0)) }))
    }

    /// `GET reporting/exports/{id}`: the status of an export.
    @Sendable func getExport(_ request: Request, context: Context) async throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let export = try await analytics.export(id: try context.resourceID("export"), principal: context.principal)
        return JSONCoding.response(export.view(downloadURL: Self.downloadURL(export)))
    }

    /// `GET reporting/exports/{id}/download`: streams the file, gzip-compressed on the fly when the client sends
    /// `Accept-Encoding: gzip` or `?gzip=1`. Read through Hummingbird's `FileIO` (which sends `Content-Length` for the
    /// plain file); a missing file is 404, like an expired export.
    @Sendable func downloadExport(_ request: Request, context: Context) async throws -> Response {
        let q = try QueryParameters(request, allowed: ["gzip"])
        let export = try await analytics.export(id: try context.resourceID("export"), principal: context.principal)
        switch export.status {
        case .ready: break
        case .expired: throw Problem(.notFound, "export \(export.id) expired; ask for a new one")
        case .failed: throw Problem(.conflict, "export \(export.id) failed: \(export.error ?? "unknown error")")
        case .pending, .running:
            throw Problem(.conflict, "export \(export.id) is \(export.status.rawValue); poll its status until it is ready")
        }
        let gzip: Bool
        switch try q.single("gzip") {
        case nil: gzip = Self.acceptsGzip(request.headers[.acceptEncoding])
        case "1", "true": gzip = true
        case "0", "false": gzip = false
        default: throw Problem.invalidParameter("gzip", "must be 1 or 0")
        }
        let path = analytics.exportPath(export)
        // FileIO marks a request whose file is missing as matching no route; a context of its own keeps this
        // route's label in the metrics and the answer says which export is gone.
        var probe = context
        probe.coreContext.endpointPath = EndpointPath()
        let file: ResponseBody
        do {
            file = try await fileIO.loadFile(path: path, context: probe, chunkLength: Self.chunkBytes)
        } catch {
            throw Problem(.notFound, "the file of export \(export.id) is gone; ask for a new one")
        }
        var headers: HTTPFields = [
            .contentType: export.spec.format.mediaType,
            .contentDisposition: "attachment; filename=\"\(export.file)\"",
            .vary: "Accept-Encoding",
        ]
        guard gzip else { return Response(status: .ok, headers: headers, body: file) }
        headers[.contentEncoding] = "gzip"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let compressor = CompressionAlgorithm.gzip().compressor
            try compressor.startStream()
            defer { try? compressor.finishStream() }
            try await file.write(GzipBodyWriter(parent: writer, compressor: compressor))
        })
    }

    /// Whether an `Accept-Encoding` header accepts gzip (`gzip` or `*` without `q=0`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let zero = parts.dropFirst().contains { $0.hasPrefix("q=") && Double($0.dropFirst(2)) == 0 }
            if !zero { return true }
        }
        return false
    }

    /// The download address of an export.
    static func downloadURL(_ e: Export) -> String { APIPath.root + "/reporting/exports/" + e.id + "/download" }
}

/// `{ exports: [...] }`.
struct ExportList: JSONWritable {
    var exports: [ExportView]

    func write(to json: inout JSONWriter) {
        json.object { w in w.field("exports", array: exports) }
    }
}

/// Gzip-compresses what a response body writes, chunk by chunk: each chunk is flushed (`.sync`) so the client gets
/// it as it is read, and `finish` writes the gzip trailer. The caller starts and ends the compressor's stream.
struct GzipBodyWriter: ResponseBodyWriter {
    var parent: any ResponseBodyWriter
    let compressor: any NIOCompressor

    mutating func write(_ buffer: ByteBuffer) async throws {
        var chunk = buffer
        var out = ByteBuffer()
        out.reserveCapacity(compressor.maxSize(from: chunk) + 64)
        try compressor.streamDeflate(from: &chunk, to: &out, flush: .sync)
        if out.readableBytes > 0 { try await parent.write(out) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        var tail = ByteBuffer()
        tail.reserveCapacity(1024)
        try compressor.finishDeflate(to: &tail)
        try await parent.write(tail)
        try await parent.finish(trailingHeaders)
    }
}

/// The JSON body of `POST reporting/exports`, read strictly: unknown members and wrong types are 400s naming them.
struct ExportBody {
    static let allowed: Set<String> = ["tenant_id", "kind", "format", "from", "to", "date_range", "filters", "group_by", "resolution"]
    /// The members of the seed's `date_range`.
    static let rangeMembers: Set<String> = ["start", "end"]
    /// The kind of an export that names none (the seed's form names none): the cost records.
    static let defaultKind = ExportKind.records
    private let members: [String: Any]

    /// The window asked for: `from` / `to`, or the seed's `date_range: { start, end }` (the same times: RFC 3339 or a
    /// date, start inclusive, end exclusive), never both. nil bounds take their defaults.
    func window() throws -> (from: Int64?, to: Int64?) {
        guard let raw = members["date_range"], !(raw is NSNull) else { return (try time("from"), try time("to")) }
        for name in ["from", "to"] where members[name] != nil && !(members[name] is NSNull) {
            throw Problem.invalidParameter("date_range", "give either date_range or from/to, not both (\(name) is set)")
        }
        guard let range = raw as? [String: Any] else {
            throw Problem.invalidParameter("date_range", "must be an object {\"start\": \"2025-05-01\", \"end\": \"2025-06-01\"}")
        }
        for name in range.keys.sorted() where !Self.rangeMembers.contains(name) {
            throw Problem.invalidParameter("date_range.\(name)", "unknown field; date_range takes start and end")
        }
        let bounds = try ["start", "end"].map { name throws -> Int64 in
            guard let value = range[name], !(value is NSNull) else {
                throw Problem.invalidParameter("date_range.\(name)", "is required: an RFC 3339 time or a date such as 2025-05-01")
            }
            guard let text = value as? String, case let .success(ms) = Timestamp.parse(text) else {
                throw Problem.invalidParameter(
                    "date_range.\(name)", "must be an RFC 3339 time such as 2025-05-01T00:00:00Z or a date such as 2025-05-01")
            }
            return ms
        }
        guard bounds[0] < bounds[1] else {
            throw Problem.invalidParameter("date_range", "start must be before end (end is exclusive)")
        }
        return (bounds[0], bounds[1])
    }

    static func read(_ request: Request, limit: Int) async throws -> ExportBody {
        let mediaType = request.headers[.contentType]?.split(separator: ";").first.map { String($0).trimmingASCIIWhitespace().lowercased() }
        guard mediaType == "application/json" else {
            throw Problem(.unsupportedMediaType, "send the body as Content-Type: application/json", parameter: "Content-Type")
        }
        let bytes = try await RequestBodyReader.read(request, limit: limit)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw Problem.invalidParameter("body", "must be a JSON object")
        }
        for name in object.keys where !allowed.contains(name) {
            throw Problem.invalidParameter(name, "unknown field; this endpoint takes " + allowed.sorted().joined(separator: ", "))
        }
        return ExportBody(members: object)
    }

    func string(_ name: String) throws -> String? {
        switch members[name] {
        case nil, is NSNull: return nil
        case let s as String: return s.isEmpty ? nil : s
        default: throw Problem.invalidParameter(name, "must be a string")
        }
    }

    func time(_ name: String) throws -> Int64? {
        guard let text = try string(name) else { return nil }
        switch Timestamp.parse(text) {
        case let .success(ms): return ms
        case .failure: throw Problem.invalidParameter(name, "must be an RFC 3339 time such as 2025-05-01T00:00:00Z or a date such as 2025-05-01")
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type, required: Bool) throws -> T? where T.RawValue == String {
        guard let text = try string(name) else {
            if required { throw Problem.invalidParameter(name, "required; one of " + T.allCases.map(\.rawValue).joined(separator: ", ")) }
            return nil
        }
        guard let v = T(rawValue: text) else {
            throw Problem.invalidParameter(name, "must be one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return v
    }

    /// A member that must be one of the raw values of `T`.
    func required<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type) throws -> T where T.RawValue == String {
        guard let v = try choice(name, type, required: true) else {
            throw Problem.invalidParameter(name, "required; one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return v
    }

    /// A list of strings: an array, or one string split at commas.
    func strings(_ name: String) throws -> [String] {
        switch members[name] {
        case nil, is NSNull: return []
        case let s as String: return s.split(separator: ",").map(String.init)
        case let list as [Any]:
            return try list.map { v in
                guard let s = v as? String else { throw Problem.invalidParameter(name, "must be an array of strings") }
                return s
            }
        default: throw Problem.invalidParameter(name, "must be an array of strings")
        }
    }

    /// `filters`: an object of dimension field name to a value or an array of values.
    func filters() throws -> [String: [String]] {
        switch members["filters"] {
        case nil, is NSNull: return [:]
        case let object as [String: Any]:
            var out: [String: [String]] = [:]
            for (name, value) in object {
                switch value {
                case let s as String: out[name] = [s]
                case let list as [Any]:
                    out[name] = try list.map { v in
                        guard let s = v as? String else { throw Problem.invalidParameter("filters", "\(name) must be strings") }
                        return s
                    }
                default: throw Problem.invalidParameter("filters", "\(name) must be a string or an array of strings")
                }
            }
            return out
        default: throw Problem.invalidParameter("filters", "must be an object such as {\"feature_tag\": [\"chat\"]}")
        }
    }
}
