import CompressNIO
import HTTPTypes
import Hummingbird
import NIOCore

/// Reads a request body into memory, refusing one over the limit (also after gzip decompression) with a 413.
enum RequestBodyReader {
    /// The body of `request`, decompressed when `Content-Encoding: gzip`; at most `limit` bytes either way.
    static func read(_ request: Request, limit: Int) async throws -> [UInt8] {
        guard try encoding(request) == "identity" else {
            var buffer = try await buffer(request, limit: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        let length = try declaredLength(request, limit: limit)
        // Straight into the array the parser reads (no second copy of the body), sized once when the
        // length is known: a request holds its body about once, whatever the body holds.
        var bytes: [UInt8] = []
        if let length, length >= 0 { bytes.reserveCapacity(length) }
        for try await chunk in request.body {
            guard bytes.count + chunk.readableBytes <= limit else { throw tooLarge(limit) }
            bytes.append(contentsOf: chunk.readableBytesView)
        }
        return bytes
    }

    /// The body of `request` as one buffer, decompressed when `Content-Encoding: gzip`; at most `limit` bytes either way.
    static func buffer(_ request: Request, limit: Int) async throws -> ByteBuffer {
        let encoding = try encoding(request)
        _ = try declaredLength(request, limit: limit)
        var buffer = ByteBuffer()
        for try await chunk in request.body {
            guard buffer.readableBytes + chunk.readableBytes <= limit else { throw tooLarge(limit) }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
        guard encoding == "gzip" else { return buffer }
        let compressed = buffer
        do {
            buffer = try buffer.decompress(with: .gzip, maxSize: limit)
        } catch let e as CompressNIOError where e == .bufferOverflow {
            throw tooLarge(limit, decompressed: true)
        } catch {
            throw Problem.invalidParameter("Content-Encoding", "the body is not valid gzip data")
        }
        let whole = compressed.withUnsafeReadableBytes { c in
            buffer.withUnsafeReadableBytes { d in GzipTrailer.matches(compressed: c, decompressed: d) }
        }
        guard whole else {
            throw Problem.invalidParameter(
                "Content-Encoding",
                "the gzip body is cut short or has bytes after its end: its trailer (CRC-32 and length) is missing or does not match; send one whole gzip member")
        }
        return buffer
    }

    /// `identity` or `gzip`; any other `Content-Encoding` is a 415.
    private static func encoding(_ request: Request) throws -> String {
        let encoding = request.headers[.contentEncoding]?.lowercased().trimmingASCIIWhitespace() ?? "identity"
        guard encoding == "identity" || encoding == "gzip" else {
            throw Problem(.unsupportedMediaType, "Content-Encoding \(encoding) is not supported; send identity or gzip",
                          parameter: "Content-Encoding")
        }
        return encoding
    }

    /// `Content-Length`, if sent; a 413 when it is over `limit` (before a byte of the body is read).
    private static func declaredLength(_ request: Request, limit: Int) throws -> Int? {
        let length = request.headers[.contentLength].flatMap(Int.init)
        if let length, length > limit { throw tooLarge(limit) }
        return length
    }

    static func tooLarge(_ limit: Int, decompressed: Bool = false) -> Problem {
        Problem(.bodyTooLarge, "the request body is over the limit of \(limit) bytes\(decompressed ? " once decompressed" : "")"
                + "; split it into smaller batches")
    }
}
