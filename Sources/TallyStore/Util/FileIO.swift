#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, honest wrappers over the POSIX calls the store needs: retry on EINTR, errors with their path.
///
/// Every file operation of the store (WAL, parts, manifest) goes through here, so `FaultInjection` can make
/// any of them fail in tests. Without injected faults the seam costs one relaxed atomic load per call.
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

    /// Throws the failure injected into a sync of `path`, if any.
    @inline(__always)
    private static func injectedSyncFault(_ path: String, _ operation: String) throws {
        if let fault = FaultInjection.fault(.sync, path), case let .fail(code) = fault {
            throw StoreError.io(path: path, operation: operation, errno: code)
        }
    }

    /// Writes a file atomically and durably: temp name, fsync, rename, directory fsync.
    package static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws {
        let tmp = path + ".tmp"
        let fd = try open(tmp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try writeAll(fd, bytes, path: tmp)
            try injectedSyncFault(tmp, "fsync")
            while fsync(fd) != 0 {
                if errno != EINTR { throw StoreError.io(path: tmp, operation: "fsync", errno: errno) }
            }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw StoreError.io(path: path, operation: "rename", errno: errno) }
        try syncDirectory(directory)
    }

    package static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StoreError.io(path: path, operation: "mkdir", errno: errno)
        }
    }

    package static func fileSize(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
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

    package init(path: String) throws {
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
        if case let .flipBit(offset, bit)? = FaultInjection.fault(.read, path) {
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
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
