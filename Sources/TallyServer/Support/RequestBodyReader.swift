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
        let length = request.headers[.contentLength].flatMap(Int.init)
        if let length, length > limit {
            throw tooLarge(limit)
        }
        if encoding == "identity" {
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
        var buffer = ByteBuffer()
        for try await chunk in request.body {
            guard buffer.readableBytes + chunk.readableBytes <= limit else { throw tooLarge(limit) }
            var chunk = chunk
            buffer.writeBuffer(&chunk)
        }
        if encoding == "gzip" {
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
        }
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    static func tooLarge(_ limit: Int, decompressed: Bool = false) -> Problem {
        Problem(.bodyTooLarge, "the request body is over the limit of \(limit) bytes\(decompressed ? " once decompressed" : "")"
                + "; split it into smaller batches")
    }
}
