import CompressNIO
import HTTPTypes
import Hummingbird
import NIOCore

/// Reads a request body into memory, refusing one over the limit (also after gzip decompression) with a 413.
enum RequestBodyReader {
    /// The body of `request`, decompressed when `Content-Encoding: gzip`; at most `limit` bytes either way.
    static func read(_ request: Request, limit: Int) async throws -> [UInt8] {
        let encoding = request.headers[.contentEncoding]?.lowercased().trimmingASCIIWhitespace() ?? "identity"
        guard encoding == "identity" || encoding == "gzip" else {
            throw Problem(.unsupportedMediaType, "Content-Encoding \(encoding) is not supported; send identity or gzip",
                          parameter: "Content-Encoding")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw tooLarge(limit)
        }
        var buffer = ByteBuffer()
        for try await chunk in request.body {
            guard buffer.readableBytes + chunk.readableBytes <= limit else { throw tooLarge(limit) }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
        if encoding == "gzip" {
            do {
                buffer = try buffer.decompress(with: .gzip, maxSize: limit)
            } catch let e as CompressNIOError where e == .bufferOverflow {
                throw tooLarge(limit, decompressed: true)
            } catch {
                throw Problem.invalidParameter("Content-Encoding", "the body is not valid gzip data")
            }
        }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    static func tooLarge(_ limit: Int, decompressed: Bool = false) -> Problem {
        Problem(.bodyTooLarge, "the request body is over the limit of \(limit) bytes\(decompressed ? " once decompressed" : "")"
                + "; split it into smaller batches")
    }
}
