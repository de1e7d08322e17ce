import HTTPTypes
import Hummingbird
import NIOCore
import TallyAnalytics
import TallyText

/// JSON responses: every body is written by `JSONWriter` (members in a fixed order, exact money and times).
enum JSONCoding {
    /// `value` as a buffer.
    static func encode(_ value: some JSONWritable) -> ByteBuffer {
        ByteBuffer(bytes: value.jsonBytes)
    }

    /// A JSON response with `status`.
    static func response(_ value: some JSONWritable, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: encode(value)))
    }
}
