import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// JSON responses: one encoder configuration for the whole facade.
enum JSONCoding {
    /// Encodes `value` into a buffer.
    static func encode(_ value: some Encodable) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        // Sorted keys: Foundation on Linux does not keep insertion order, and stable output is easier to diff and cache.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: try encoder.encode(value))
    }

    /// A JSON response with `status`.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: try encode(value)))
    }
}
