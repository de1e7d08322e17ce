import Foundation

/// Where this module's resources (`Package.swift`: `resources`) are on disk.
///
/// SwiftPM's generated `Bundle.module` stops the process when the resource bundle is missing (a `tally` binary
/// copied without its `tally_TallyServer.resources` folder): the server must not die for a static file, so the
/// bundle is looked up by hand — beside the executable, then in the main bundle — and a missing file is a 404,
/// nothing worse.
enum ServerResources {
    /// The resource bundle's name beside the executable.
    static let bundleName = "tally_TallyServer.resources"

    /// The directories that may hold the bundle's files, most likely first.
    static func bundleDirectories() -> [String] {
        var candidates: [String] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent().path
        candidates.append(executable + "/" + bundleName)
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundleName).path)
        if let resources = Bundle.main.resourceURL { candidates.append(resources.appendingPathComponent(bundleName).path) }
        return candidates
    }
}
