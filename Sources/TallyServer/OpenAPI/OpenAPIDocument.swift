import Foundation

/// The OpenAPI 3.1 document of the facade (`openapi.json` beside this file, a resource of the module), served as
/// is at `GET /api/v1/analytics/openapi.json`.
///
/// It is the wire contract: the server tests check every response they get against it (status, media type, body
/// schema), and that it lists exactly the router's routes. Change the document with the code.
enum OpenAPIDocument {
    /// The file's bytes, read once; nil when the file is installed neither beside the binary nor in the source tree.
    static let bytes: [UInt8]? = {
        var candidates = ServerResources.bundleDirectories().map { $0 + "/openapi.json" }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/openapi.json")
        return candidates.lazy.compactMap { FileManager.default.contents(atPath: $0) }.first.map { [UInt8]($0) }
    }()
}
