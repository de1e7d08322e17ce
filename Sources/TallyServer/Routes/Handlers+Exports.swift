import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyStore
import TallyText

#if canImport(Glibc)
import Glibc
#endif

extension Handlers {
    /// `POST reporting/exports`: accepts an export and writes it in the background; 202 with its status.
    func createExport(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let body = try await ExportBody.read(request, limit: Self.maxSmallBodyBytes)
        let now = analytics.now
        let to = try body.time("to") ?? now
        let spec = ExportSpec(
            kind: try body.required("kind", ExportKind.self),
            format: try body.required("format", ExportFormat.self),
            from: try body.time("from") ?? to - 30 * TimeUnit.dayMillis, to: to, filters: try body.filters(),
            groupBy: try body.strings("group_by"), resolution: try body.choice("resolution", Resolution.self, required: false))
        let export = try await analytics.createExport(spec, tenantID: try body.string("tenant_id"), principal: principal)
        var response = JSONCoding.response(export.view(downloadURL: Self.downloadURL(export)), status: .accepted)
        response.headers[.location] = Endpoint.listExports.path + "/" + export.id
        return response
    }

    /// `GET reporting/exports`: the exports the key reaches, newest first.
    func listExports(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["tenant_id"])
        let exports = try await analytics.exports(tenantID: try q.single("tenant_id"), principal: principal)
        return JSONCoding.response(ExportList(exports: exports.map { $0.view(downloadURL: Self.downloadURL($0)) }))
    }

    /// `GET reporting/exports/{id}`: the status of an export.
    func getExport(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try QueryParameters(request, allowed: [])
        let export = try await analytics.export(id: try resourceID(context, "export"), principal: principal)
        return JSONCoding.response(export.view(downloadURL: Self.downloadURL(export)))
    }

    /// `GET reporting/exports/{id}/download`: streams the file, gzip-compressed on the fly when the client sends
    /// `Accept-Encoding: gzip` or `?gzip=1`. Memory stays at one 64 KiB chunk whatever the size of the file.
    func downloadExport(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let q = try QueryParameters(request, allowed: ["gzip"])
        let export = try await analytics.export(id: try resourceID(context, "export"), principal: principal)
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
        guard access(path, R_OK) == 0 else { throw Problem(.notFound, "the file of export \(export.id) is gone; ask for a new one") }
        var headers: HTTPFields = [
            .contentType: export.spec.format.mediaType,
            .contentDisposition: "attachment; filename=\"\(export.file)\"",
            .vary: "Accept-Encoding",
        ]
        if gzip { headers[.contentEncoding] = "gzip" }
        let analytics = self.analytics
        let body = ResponseBody(contentLength: gzip ? nil : Int(export.bytes)) { writer in
            // Opened here, so a response that is never written holds no descriptor.
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw StoreError.io(path: path, operation: "open", errno: errno) }
            let file = ExportFileHandle(fd: fd)
            defer { file.close() }
            let compressor: (any NIOCompressor)? = gzip ? CompressionAlgorithm.gzip().compressor : nil
            try compressor?.startStream()
            defer { try? compressor?.finishStream() }
            var offset: Int64 = 0
            while true {
                let start = offset
                var chunk = try await analytics.blocking { try file.read(at: start, count: ExportFileHandle.chunkBytes) }
                if chunk.readableBytes == 0 { break }
                offset += Int64(chunk.readableBytes)
                if let compressor {
                    var out = ByteBuffer()
                    out.reserveCapacity(compressor.maxSize(from: chunk) + 64)
                    try compressor.streamDeflate(from: &chunk, to: &out, flush: .sync)
                    if out.readableBytes > 0 { try await writer.write(out) }
                } else {
                    try await writer.write(chunk)
                }
            }
            if let compressor {
                var tail = ByteBuffer()
                tail.reserveCapacity(1024)
                try compressor.finishDeflate(to: &tail)
                try await writer.write(tail)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
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
    static func downloadURL(_ e: Export) -> String { Endpoint.listExports.path + "/" + e.id + "/download" }

}

/// `{ exports: [...] }`.
struct ExportList: JSONWritable {
    var exports: [ExportView]

    func write(to json: inout JSONWriter) {
        json.object { w in w.field("exports", array: exports) }
    }
}

/// An open export file read in chunks by position (`pread`); the download closes it when done.
final class ExportFileHandle: Sendable {
    static let chunkBytes = 64 << 10
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    /// Up to `count` bytes at `offset` (empty at the end of the file).
    func read(at offset: Int64, count: Int) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(count)
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            while true {
                let r = pread(fd, raw.baseAddress, count, off_t(offset))
                if r < 0 && errno == EINTR { continue }
                guard r >= 0 else { throw StoreError.io(path: "export file", operation: "pread", errno: errno) }
                return r
            }
        }
        return buffer
    }

    func close() { Glibc.close(fd) }
}

/// The JSON body of `POST reporting/exports`, read strictly: unknown members and wrong types are 400s naming them.
struct ExportBody {
    static let allowed: Set<String> = ["tenant_id", "kind", "format", "from", "to", "filters", "group_by", "resolution"]
    private let members: [String: Any]

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
