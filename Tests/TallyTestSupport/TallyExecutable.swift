import Foundation

/// The `tally` executable next to the test bundle (`.build/<config>/tally`).
///
/// The test targets do not depend on the `tally` target: `swift build --build-tests` and `swift test` build every
/// target, the executable included, before any test runs.
public func tallyExecutable() -> String {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return bundle.appendingPathComponent("tally").path
}
