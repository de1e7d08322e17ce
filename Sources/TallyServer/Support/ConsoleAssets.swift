import Foundation

/// The web console's static files (`index.html`, `console.css`, `console.js`), shipped as resources of this
/// module (`Package.swift`: `.copy("Console")`) and read once.
///
/// The files are looked up by hand (`ServerResources`), then in the source tree this file was compiled from;
/// a missing console is a 404, nothing worse.
enum ConsoleAssets {
    /// One file: its bytes and media type.
    struct Asset: Sendable {
        var bytes: [UInt8]
        var mediaType: String
    }

    /// The files by name (`index.html` answers `/console`).
    static let files: [String: Asset] = {
        guard let directory = directory() else { return [:] }
        var out: [String: Asset] = [:]
        for (name, type) in [("index.html", "text/html; charset=utf-8"), ("console.css", "text/css; charset=utf-8"),
                             ("console.js", "text/javascript; charset=utf-8")] {
            if let data = FileManager.default.contents(atPath: directory + "/" + name) {
                out[name] = Asset(bytes: [UInt8](data), mediaType: type)
            }
        }
        return out
    }()

    /// The first directory that holds `index.html`.
    static func directory() -> String? {
        var candidates = ServerResources.bundleDirectories().map { $0 + "/Console" }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/Console")
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/index.html") }
    }
}
