#if canImport(Glibc)
import Glibc
#endif
import CTallyPrefetch

/// Thin, honest wrappers over the POSIX calls the store needs: retry on EINTR, errors with their path.
///
/// Every file operation of Tally (WAL, parts, manifest, quarantine, exports) goes through here, so
/// `FaultInjection` can make any of them fail in tests. Without injected faults the seam costs one relaxed atomic load per call.
package enum FileIO {
    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        if let fault = FaultInjection.fault(.open, path), case let .fail(code) = fault {
            throw StoreError.io(path: path, operation: "open", errno: code)
        }
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw StoreError.io(path: path, operation: "open", errno: errno) }
        }
    }

    /// Writes all of `bytes`.
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var off = 0
        while off < bytes.count {
            var want = bytes.count - off
            switch FaultInjection.fault(.write, path) {
            case nil: break
            case let .fail(code)?: throw StoreError.io(path: path, operation: "write", errno: code)
            case let .short(max)?: want = Swift.min(want, Swift.max(1, max))
            case let .torn(keep, code)?:
                let n = Swift.min(want, Swift.max(0, keep))
                if n > 0 { _ = Glibc.write(fd, bytes.baseAddress! + off, n) }
                throw StoreError.io(path: path, operation: "write", errno: code)
            case .flipBit?: break
            }
            let n = Glibc.write(fd, bytes.baseAddress! + off, want)
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.io(path: path, operation: "write", errno: errno)
            }
            off += n
        }
    }

    package static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// `fdatasync`, or `fsync` where that is all there is.
    package static func sync(_ fd: Int32, path: String) throws {
        try injectedSyncFault(path, "fdatasync")
        while fdatasync(fd) != 0 {
            if errno != EINTR { throw StoreError.io(path: path, operation: "fdatasync", errno: errno) }
        }
    }

    /// fsyncs a directory so a rename or create in it is durable.
    package static func syncDirectory(_ path: String) throws {
        try injectedSyncFault(path, "fsync")
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        while fsync(fd) != 0 {
            if errno != EINTR { throw StoreError.io(path: path, operation: "fsync", errno: errno) }
        }
    }

    /// Reads `fd` until end of file, for what has no size up front (standard input, a pipe, /proc files); `path`
    /// names it in errors.
    package static func readToEnd(_ fd: Int32, path: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Reads a whole file.
    package static func readAll(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError.io(path: path, operation: "fstat", errno: errno) }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var off = 0
        try out.withUnsafeMutableBytes { buf in
            while off < buf.count {
                let n = read(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError.io(path: path, operation: "read", errno: errno)
                }
                if n == 0 { break }
                off += n
            }
        }
        if off < out.count { out.removeSubrange(off...) }
        if case let .flipBit(offset, bit)? = FaultInjection.fault(.read, path), !out.isEmpty {
            out[Swift.min(offset, out.count - 1)] ^= 1 << (bit & 7)
        }
        return out
    }

    /// The end of the file at `path`, read with `pread` rather than mapped: a question that needs a part's footer
    /// and none of its blocks then costs no mapping, no page faults on it and no unmapping. The file's last
    /// `min(size, guess)` bytes are read into scratch memory (the stack, when there is room: no fresh pages per
    /// file); `start(size, thoseBytes)` says where the bytes needed begin (clamped to the file), and when that is
    /// before them, the rest is read too. `body` gets the bytes from `offset` to the end (lent for the call), the
    /// file's size, and what fault injection decided for the read (for a later mapping of the file to agree).
    package static func readEnd<R>(
        _ path: String, guess: Int, start: (Int, UnsafeRawBufferPointer) -> Int,
        _ body: (_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ size: Int, _ fault: FaultInjection.Fault?) throws -> R
    ) throws -> R {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError.io(path: path, operation: "fstat", errno: errno) }
        let size = Int(st.st_size)
        func read(_ into: UnsafeMutableRawBufferPointer, at offset: Int) throws {
            var done = 0
            while done < into.count {
                let n = pread(fd, into.baseAddress! + done, into.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError.io(path: path, operation: "read", errno: errno)
                }
                if n == 0 {
                    // The file shrank under us: what is missing reads as zeros, which the footer's checks refuse.
                    (into.baseAddress! + done).initializeMemory(as: UInt8.self, repeating: 0, count: into.count - done)
                    return
                }
                done += n
            }
        }
        let last = Swift.min(size, Swift.max(guess, 0))
        return try withUnsafeTemporaryAllocation(byteCount: Swift.max(last, 1), alignment: 16) { scratch in
            let tail = UnsafeMutableRawBufferPointer(rebasing: scratch[..<last])
            try read(tail, at: size - last)
            let wanted = Swift.max(0, Swift.min(size, start(size, UnsafeRawBufferPointer(tail))))
            let fault = size > 0 ? FaultInjection.fault(.read, path) : nil
            func lend(_ bytes: UnsafeMutableRawBufferPointer, from offset: Int) throws -> R {
                if case let .flipBit(at, bit)? = fault, Swift.min(at, size - 1) >= offset {
                    bytes[Swift.min(at, size - 1) - offset] ^= 1 << (bit & 7)
                }
                return try body(UnsafeRawBufferPointer(bytes), offset, size, fault)
            }
            guard wanted < size - last else { return try lend(tail, from: size - last) }
            // More than the guess: the bytes before the tail are read into memory of their own, the tail copied after.
            let all = UnsafeMutableRawBufferPointer.allocate(byteCount: size - wanted, alignment: 16)
            defer { all.deallocate() }
            try read(UnsafeMutableRawBufferPointer(rebasing: all[..<(size - last - wanted)]), at: wanted)
            UnsafeMutableRawBufferPointer(rebasing: all[(size - last - wanted)...]).copyMemory(from: UnsafeRawBufferPointer(tail))
            return try lend(all, from: wanted)
        }
    }

    /// Throws the failure injected into a sync of `path`, if any.
    @inline(__always)
    private static func injectedSyncFault(_ path: String, _ operation: String) throws {
        if let fault = FaultInjection.fault(.sync, path), case let .fail(code) = fault {
            throw StoreError.io(path: path, operation: operation, errno: code)
        }
    }

    /// Publishes a file atomically and durably: `write` fills a temporary file beside `path` (its descriptor and
    /// path are lent), which is fsynced and renamed to `path`, and then `directory` is fsynced. Returns what
    /// `write` returns.
    ///
    /// Readers see no file or the whole file, never part of one. When any step before the rename fails, the
    /// temporary is removed and nothing appears at `path`; when the directory fsync after it fails, the file is
    /// complete at `path` but may not survive a crash, and the error says so (the caller decides whether to keep it).
    package static func publish<R>(
        _ path: String, directory: String, temporary: String? = nil, mode: mode_t = 0o644,
        _ write: (_ fd: Int32, _ temporaryPath: String) throws -> R
    ) throws -> R {
        let file = try PendingFile(path, directory: directory, temporary: temporary, mode: mode)
        let result: R
        do {
            result = try write(file.fd, file.temporaryPath)
        } catch {
            file.abandon()
            throw error
        }
        try file.publish()
        return result
    }

    /// A file being published atomically (`publish`, for writers that cannot fill it inside one synchronous
    /// closure, such as an export written by async code): open a temporary beside `path`, write to `fd`, then
    /// `publish()` (fsync, rename, fsync the directory) or `abandon()` (close and remove the temporary). Exactly
    /// one of the two must be called; both close the descriptor.
    package final class PendingFile: @unchecked Sendable {
        /// The open temporary file.
        package let fd: Int32
        /// Where it is until published.
        package let temporaryPath: String
        let path: String
        let directory: String

        /// Creates (truncating) the temporary file, `path + ".tmp"` unless `temporary` names it.
        package init(_ path: String, directory: String, temporary: String? = nil, mode: mode_t = 0o644) throws {
            let tmp = temporary ?? path + ".tmp"
            fd = try FileIO.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
            temporaryPath = tmp
            self.path = path
            self.directory = directory
        }

        /// Fsyncs the file, renames it to its final path and fsyncs the directory. When a step before the rename
        /// fails, the temporary is removed and nothing appears at the path; when the directory fsync after it fails,
        /// the file is complete at the path but may not survive a crash, and the error says so.
        /// `synced: false` skips both fsyncs: the file is whole at its path or absent, but durable only once the caller
        /// syncs it (`writeUnsynced`).
        package func publish(synced: Bool = true) throws {
            if synced {
                do {
                    try injectedSyncFault(temporaryPath, "fsync")
                    while fsync(fd) != 0 {
                        if errno != EINTR { throw StoreError.io(path: temporaryPath, operation: "fsync", errno: errno) }
                    }
                } catch {
                    abandon()
                    throw error
                }
            }
            Glibc.close(fd)
            do {
                try rename(temporaryPath, to: path)
            } catch {
                Glibc.unlink(temporaryPath)
                throw error
            }
            if synced { try syncDirectory(directory) }
        }

        /// Closes and removes the temporary file; nothing is published.
        package func abandon() {
            Glibc.close(fd)
            Glibc.unlink(temporaryPath)
        }
    }

    /// Writes a file atomically and durably (`publish` with `bytes` as its contents).
    package static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws {
        try publish(path, directory: directory) { fd, tmp in try writeAll(fd, bytes, path: tmp) }
    }

    /// Writes a file under `path` directly, without syncing it and without a temporary: for files nobody lists until
    /// `syncFileSystem` has made them durable (a bulk load's parts: thousands of them for thousands of tenants, where
    /// two fsyncs each made a load wait minutes). A rename per file took the directory's lock a second time, and two
    /// part writers then spun on it while ext4 looked for a free inode past the ones deleted just before (`perf` of a
    /// 2,000-tenant import). A crash can leave the file partial under its name; nothing lists it, an open deletes it,
    /// and `tally repair` reads every part's checksums before it lists one. A failed write removes the file.
    package static func writeUnsynced(_ bytes: [UInt8], to path: String) throws {
        let fd = try open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        do {
            try writeAll(fd, bytes, path: path)
        } catch {
            Glibc.close(fd)
            Glibc.unlink(path)
            throw error
        }
        Glibc.close(fd)
    }

    /// `syncfs` of the file system holding `directory`: every file written and renamed on it so far is durable when
    /// this returns, in one flush instead of an fsync per file and directory. (Linux waits for the writes, and since
    /// 5.8 reports the writeback errors of the file system since the descriptor was opened.)
    package static func syncFileSystem(_ directory: String) throws {
        try injectedSyncFault(directory, "syncfs")
        let fd = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        while tally_syncfs(fd) != 0 {
            if errno != EINTR { throw StoreError.io(path: directory, operation: "syncfs", errno: errno) }
        }
    }

    /// Renames `from` to `to`, replacing `to` (atomic on one file system). Not durable until the directory is
    /// fsynced (`syncDirectory`).
    package static func rename(_ from: String, to: String) throws {
        if let fault = FaultInjection.fault(.rename, from), case let .fail(code) = fault {
            throw StoreError.io(path: from, operation: "rename", errno: code)
        }
        guard Glibc.rename(from, to) == 0 else { throw StoreError.io(path: from, operation: "rename", errno: errno) }
    }

    /// Removes a file; one already gone is no error.
    package static func remove(_ path: String) throws {
        if let fault = FaultInjection.fault(.remove, path), case let .fail(code) = fault {
            throw StoreError.io(path: path, operation: "unlink", errno: code)
        }
        guard Glibc.unlink(path) == 0 || errno == ENOENT else { throw StoreError.io(path: path, operation: "unlink", errno: errno) }
    }

    /// Removes an empty directory; one already gone is no error.
    package static func removeDirectory(_ path: String) throws {
        if let fault = FaultInjection.fault(.remove, path), case let .fail(code) = fault {
            throw StoreError.io(path: path, operation: "rmdir", errno: code)
        }
        guard rmdir(path) == 0 || errno == ENOENT else { throw StoreError.io(path: path, operation: "rmdir", errno: errno) }
    }

    /// Cuts the file open as `fd` to `size` bytes.
    package static func truncate(_ fd: Int32, to size: Int, path: String) throws {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw StoreError.io(path: path, operation: "ftruncate", errno: errno) }
        }
    }

    /// Cuts the file at `path` to `size` bytes.
    package static func truncate(_ path: String, to size: Int) throws {
        while Glibc.truncate(path, off_t(size)) != 0 {
            if errno != EINTR { throw StoreError.io(path: path, operation: "truncate", errno: errno) }
        }
    }

    /// Creates a directory; one that exists already is no error.
    package static func makeDirectory(_ path: String) throws {
        if let fault = FaultInjection.fault(.makeDirectory, path), case let .fail(code) = fault {
            throw StoreError.io(path: path, operation: "mkdir", errno: code)
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StoreError.io(path: path, operation: "mkdir", errno: errno)
        }
    }

    /// Closes a descriptor (a close error is not actionable for the files Tally closes: they were fsynced or only read).
    package static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// The size of the file open as `fd`.
    package static func fileSize(_ fd: Int32, path: String) throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError.io(path: path, operation: "fstat", errno: errno) }
        return Int(st.st_size)
    }

    package static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether this process may write in `path`.
    package static func isWritable(_ path: String) -> Bool {
        access(path, W_OK) == 0
    }

    /// Bytes free for this process on the file system that holds `path`.
    package static func availableBytes(_ path: String) throws(StoreError) -> Int64 {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { throw .io(path: path, operation: "statvfs", errno: errno) }
        return Int64(fs.f_bavail) * Int64(fs.f_frsize)
    }

    /// Names in a directory (no `.`/`..`), sorted.
    package static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// A read-only memory mapping of a whole file, unmapped when released.
///
/// `@unchecked Sendable`: the mapping is read-only and immutable for its whole life, and it is
/// unmapped only in `deinit`, when no reference (and so no lent pointer) remains.
package final class MappedFile: @unchecked Sendable {
    package let path: String
    package let bytes: UnsafeRawBufferPointer
    /// Whether `bytes` is the file's shared mapping (not a fault-injected private copy).
    private var shared = false

    package convenience init(path: String) throws {
        try self.init(path: path, decidedFault: nil)
    }

    /// Maps `path`. `decidedFault`, when not nil, is what fault injection decided for an earlier read of the same file
    /// (`FileIO.readEnd`; `.some(nil)`: no fault), applied instead of asking again, so the mapping holds the bytes that
    /// read saw.
    package init(path: String, decidedFault: FaultInjection.Fault??) throws {
        self.path = path
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError.io(path: path, operation: "fstat", errno: errno) }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        if case let .flipBit(offset, bit)? = decidedFault ?? FaultInjection.fault(.read, path) {
            // A private copy-on-write mapping with one bit flipped: the file itself is untouched.
            guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                throw StoreError.io(path: path, operation: "mmap", errno: errno)
            }
            p.storeBytes(of: p.load(fromByteOffset: Swift.min(offset, size - 1), as: UInt8.self) ^ (1 << (bit & 7)),
                         toByteOffset: Swift.min(offset, size - 1), as: UInt8.self)
            mprotect(p, size, PROT_READ)
            bytes = UnsafeRawBufferPointer(start: p, count: size)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw StoreError.io(path: path, operation: "mmap", errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        shared = true
    }

    /// Unmaps the pages read so far from the process, not from the page cache: the next read maps them again (a
    /// minor fault), so the bytes are the same and the process's resident memory counts only what it reads later.
    /// The kernel maps a fault's neighbours too, so reading one column of a part makes most of the file resident.
    package func releasePages() {
        guard shared, let base = bytes.baseAddress else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), bytes.count, MADV_DONTNEED)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
