/// Everything the store can fail with, each case carrying what a person needs to act on it.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed on a path.
    case io(path: String, operation: String, errno: Int32)
    /// A part, WAL or manifest byte range failed its checksum or does not parse.
    case corrupt(path: String, offset: Int, reason: String)
    /// The on-disk format is newer or older than this build understands.
    case unsupportedVersion(path: String, found: Int, supported: Int)
    /// The data directory is held by another process.
    case locked(path: String)
    /// The store was closed.
    case closed
    /// The store was opened read-only.
    case readOnly(path: String)
    /// A caller passed something the store cannot accept.
    case invalidArgument(String)
    /// The MANIFEST fails its checksum or does not parse: the store cannot know its parts until `tally repair`.
    case damagedManifest(path: String, reason: String)

    /// The `errno` of a failed system call (`io`); nil for every other error.
    public var errno: Int32? {
        if case let .io(_, _, code) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case let .io(path, operation, errno):
            return "\(operation) failed on \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case let .corrupt(path, offset, reason):
            return "corrupt data in \(path) at offset \(offset): \(reason)"
        case let .unsupportedVersion(path, found, supported):
            return "\(path) has format version \(found); this build reads version \(supported)"
        case let .locked(path):
            return "the data directory \(path) is in use by another process"
        case .closed:
            return "the store is closed"
        case let .readOnly(path):
            return "the store in \(path) is open read-only"
        case let .invalidArgument(text):
            return text
        case let .damagedManifest(path, reason):
            return "the manifest \(path) is damaged (\(reason)); the store cannot open until it is rebuilt: "
                + "run `tally repair --data \(String(path.dropLast("/MANIFEST".count)))` (it rebuilds MANIFEST from the part files "
                + "and the WAL, and deletes nothing)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
