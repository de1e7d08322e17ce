import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, for the tests that start processes while the suite runs.
///
/// Not Foundation's `Process`: swift-corelibs-foundation 6.3's `Process.run()` lists `/proc/self/fd` to close every
/// descriptor in the child and copies each `dirent`'s whole 256-byte name, reading past glibc's directory buffer; when
/// the test process has ~1,400 descriptors open (the parallel server suites reach 2,500) the read crosses into an
/// unmapped page and the suite dies of SIGSEGV (swiftlang/swift-corelibs-foundation#5472, fixed after 6.3). Here the
/// child closes every descriptor above 2 with glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), and the
/// pipes are close-on-exec, so no other child inherits them.
public final class ChildProcess: @unchecked Sendable {
    /// What a standard descriptor of the child is.
    public enum Stdio: Sendable {
        /// A pipe to this process (`stdin`, `stdout`, `stderr` below).
        case pipe
        /// /dev/null.
        case null
        /// This process's own.
        case inherit
        /// A file, created when missing, written at its end.
        case file(String)
    }

    public let processIdentifier: pid_t
    /// The write end of the child's standard input, when it is a pipe.
    public let stdin: FileHandle?
    /// The read ends of the child's standard output and error, when they are pipes.
    public let stdout: FileHandle?
    public let stderr: FileHandle?
    private let lock = NSLock()
    private var status: Int32?

    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
                stdin: Stdio = .pipe, stdout: Stdio = .pipe, stderr: Stdio = .pipe) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32?] = [nil, nil, nil]
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        for (target, mode) in [stdin, stdout, stderr].enumerated() {
            switch mode {
            case .inherit:
                continue
            case .null:
                posix_spawn_file_actions_addopen(&actions, Int32(target), "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case let .file(path):
                posix_spawn_file_actions_addopen(&actions, Int32(target), path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw SpawnError(description: "pipe: errno \(errno)") }
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                childEnds.append(childEnd)
                parentEnds[target] = parentEnd
                // dup2 leaves the copy without close-on-exec: the child keeps exactly its three.
                posix_spawn_file_actions_adddup2(&actions, childEnd, Int32(target))
            }
        }
        guard let closeFrom = Self.closeFrom else {
            throw SpawnError(description: "posix_spawn_file_actions_addclosefrom_np is missing (glibc 2.34 or later)")
        }
        guard closeFrom(&actions, 3) == 0 else { throw SpawnError(description: "addclosefrom: errno \(errno)") }
        if let directory {
            guard let changeDirectory = Self.changeDirectory, changeDirectory(&actions, directory) == 0 else {
                throw SpawnError(description: "cannot start the child in \(directory) (posix_spawn_file_actions_addchdir_np)")
            }
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in env { free(e) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, env)
        guard rc == 0 else {
            for fd in parentEnds.compactMap({ $0 }) { close(fd) }
            throw SpawnError(description: "posix_spawn \(executable): errno \(rc)")
        }
        processIdentifier = pid
        self.stdin = parentEnds[0].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        self.stdout = parentEnds[1].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        self.stderr = parentEnds[2].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+) and `posix_spawn_file_actions_addchdir_np` (2.29+):
    /// not in the Glibc module, which is imported without `_GNU_SOURCE`.
    private static let closeFrom = glibc("posix_spawn_file_actions_addclosefrom_np",
                                         as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    private static let changeDirectory = glibc("posix_spawn_file_actions_addchdir_np",
                                               as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)

    private static func glibc<F>(_ name: String, as type: F.Type) -> F? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }

    deinit {
        // Reap the child if nobody waited (it may still run: tests kill what they start).
        _ = exitStatus(blocking: false)
    }

    /// Sends `signal` (SIGTERM by default).
    public func terminate(_ signal: Int32 = SIGTERM) {
        if isRunning { kill(processIdentifier, signal) }
    }

    public var isRunning: Bool { exitStatus(blocking: false) == nil }

    /// Waits for the end; returns the raw wait status.
    @discardableResult
    public func waitUntilExit() -> Int32 { exitStatus(blocking: true)! }

    /// The exit code, or 128 + the signal that ended it (as a shell says).
    public var terminationStatus: Int32 {
        let s = waitUntilExit()
        return s & 0x7f == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f)
    }

    private func exitStatus(blocking: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        var s: Int32 = 0
        while true {
            let r = waitpid(processIdentifier, &s, blocking ? 0 : WNOHANG)
            if r == processIdentifier {
                status = s
                return s
            }
            if r == -1 && errno == EINTR { continue }
            return nil
        }
    }
}
