import Foundation
import TallyStore

#if canImport(Glibc)
import Glibc
#endif

/// A fresh, uniquely named directory under `/tmp` (mkdtemp) for one test.
public struct TemporaryDirectory: Sendable {
    /// Absolute path of the directory.
    public let path: String

    /// Creates the directory `/tmp/<prefix>.XXXXXX`.
    public init(prefix: String = "tally-test") throws {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw StoreError.io(path: "/tmp/\(prefix).XXXXXX", operation: "mkdtemp", errno: errno)
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The path of `name` inside the directory.
    public func appending(_ name: String) -> String { path + "/" + name }

    /// Deletes the directory and everything in it; a directory already gone is fine.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with the path of a fresh temporary directory and deletes the directory afterwards,
/// also when `body` throws. Traps when no directory can be made under `/tmp`: the machine is unfit for tests.
public func withTemporaryDirectory<R>(
    prefix: String = "tally-test",
    _ body: (String) async throws -> R
) async rethrows -> R {
    let dir: TemporaryDirectory
    do {
        dir = try TemporaryDirectory(prefix: prefix)
    } catch {
        fatalError("cannot create a temporary directory: \(error)")
    }
    defer { dir.remove() }
    return try await body(dir.path)
}
