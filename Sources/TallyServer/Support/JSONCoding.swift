import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyText

/// JSON responses: every body is written by `JSONWriter` (members in a fixed order, exact money and times).
enum JSONCoding {
    /// `value` as a buffer.
    static func encode(_ value: some JSONWritable) -> ByteBuffer {
        // Room for a usage series of a month by day (~6 KB) from the start: no regrowth on the common answers.
        var w = JSONWriter(capacity: 8_192)
        value.write(to: &w)
        return ByteBuffer(bytes: w.bytes)
    }

    /// A JSON response with `status`.
    static func response(_ value: some JSONWritable, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: encode(value)))
    }
}
