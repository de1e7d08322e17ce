#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TallyStore

/// A local, append-only file of cost records that could not be stored when they were made (the proxy's records while
/// the record store fails or is overloaded), kept until `Analytics.drainSpool` stores them.
///
/// Files in `directory` (docs/FORMAT.md, "The proxy spool"): `spool.ndjson` takes new records, one NDJSON line each,
/// written and `fdatasync`ed before `append` returns; a drain first renames it to `spool-<ms>-<n>.draining` (new
/// records go to a fresh `spool.ndjson`), stores that file's records and deletes it. A crash mid-drain leaves the
/// `.draining` file for the next drain: records it already stored are duplicates by `(tenant_id, request_id)`, stored
/// once. `rejected.ndjson` keeps records the store refused as invalid (a model with no price, say): never retried,
/// never dropped; fix the cause and `tally import` them.
public final class RecordSpool: Sendable {
    /// The spool directory.
    public let directory: String
    private let state = Mutex(State())

    private struct State {
        var fd: Int32 = -1
        var size = 0
        var rotations = 0
    }

    /// The spool in `directory`, created when missing.
    public init(directory: String) throws {
        self.directory = directory
        if !FileIO.exists(directory) { try FileIO.makeDirectory(directory) }
    }

    deinit {
        state.withLock { if $0.fd >= 0 { FileIO.close($0.fd) } }
    }

    var current: String { directory + "/spool.ndjson" }
    /// Where refused records are kept.
    public var rejectedPath: String { directory + "/rejected.ndjson" }

    /// Appends one record (an NDJSON line without its line feed) and syncs it; on failure nothing of it stays
    /// (a torn write is cut back), so the file holds whole lines only.
    public func append(_ line: [UInt8]) throws {
        try state.withLock { s in
            if s.fd < 0 {
                let path = current
                let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_APPEND)
                do { s.size = try FileIO.fileSize(fd, path: path) } catch { FileIO.close(fd); throw error }
                s.fd = fd
                try FileIO.syncDirectory(directory)
            }
            do {
                try FileIO.writeAll(s.fd, line + [0x0A], path: current)
                try FileIO.sync(s.fd, path: current)
                s.size += line.count + 1
            } catch {
                // Cut a torn line back (O_APPEND writes at the end, so the next line starts clean), and reopen next time.
                try? FileIO.truncate(s.fd, to: s.size, path: current)
                FileIO.close(s.fd)
                s.fd = -1
                throw error
            }
        }
    }

    /// Keeps a record the store refused (appended and synced to `rejected.ndjson`).
    public func reject(_ line: [UInt8]) throws {
        let path = rejectedPath
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_APPEND)
        defer { FileIO.close(fd) }
        try FileIO.writeAll(fd, line + [0x0A], path: path)
        try FileIO.sync(fd, path: path)
    }

    /// The files a drain must store, oldest first: the `.draining` files of earlier drains, then the current file
    /// (renamed to a `.draining` file now, so appends go on into a new one).
    func filesToDrain(now: Int64) throws -> [String] {
        try state.withLock { s in
            if FileIO.exists(current), (FileIO.fileSize(current) ?? 0) > 0 {
                if s.fd >= 0 { FileIO.close(s.fd); s.fd = -1 }
                s.rotations += 1
                try FileIO.rename(current, to: directory + "/spool-\(now)-\(s.rotations).draining")
                try FileIO.syncDirectory(directory)
            }
        }
        return FileIO.list(directory).filter { $0.hasSuffix(".draining") }.sorted { Self.order($0) < Self.order($1) }
            .map { directory + "/" + $0 }
    }

    /// Records waiting in the spool (lines of the current and the draining files).
    public func pendingRecords() -> Int {
        var n = 0
        for name in FileIO.list(directory) where name == "spool.ndjson" || name.hasSuffix(".draining") {
            n += ((try? FileIO.readAll(directory + "/" + name)) ?? []).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        return n
    }

    private static func order(_ name: String) -> (Int64, Int) {
        let parts = name.dropFirst("spool-".count).dropLast(".draining".count).split(separator: "-")
        guard parts.count == 2, let ms = Int64(parts[0]), let n = Int(parts[1]) else { return (0, 0) }
        return (ms, n)
    }
}

/// What one drain of the spool did.
public struct SpoolDrainReport: Sendable, Equatable {
    /// Records read from the spool.
    public var read = 0
    /// Records stored now.
    public var inserted = 0
    /// Records already stored (an earlier drain or the first attempt got through).
    public var duplicates = 0
    /// Records the store refused (moved to `rejected.ndjson`).
    public var rejected = 0

    /// Nothing read yet.
    public init() {}
}

extension Analytics {
    /// Stores the spooled records (see `RecordSpool`), file by file in batches of at most `batchBytes`; a file is
    /// deleted once all of its records are stored. Throws (leaving what it could not store for the next drain) when
    /// the store still fails.
    public func drainSpool(_ spool: RecordSpool, batchBytes: Int = 4 << 20) async throws -> SpoolDrainReport {
        var report = SpoolDrainReport()
        let now = self.now
        let files = try await blocking { try spool.filesToDrain(now: now) }
        let principal = Principal(keyID: "proxy-spool", tenant: nil, role: .admin)
        for file in files {
            let bytes = try await blocking { try FileIO.readAll(file) }
            // Whole lines only: a line without its line feed was never acknowledged (a crash cut its write).
            guard let last = bytes.lastIndex(of: 0x0A) else {
                try await blocking { try FileIO.remove(file) }
                continue
            }
            var start = 0
            while start <= last {
                var end = min(last, start + batchBytes)
                while bytes[end] != 0x0A { end += 1 }
                let batch = Array(bytes[start...end])
                let receipt = try await ingest(batch, format: .ndjson, principal: principal, skipInvalid: true)
                report.read += receipt.received
                report.inserted += receipt.inserted
                report.duplicates += receipt.duplicateLines.count
                if receipt.rejectedLines > 0 {
                    report.rejected += receipt.rejectedLines
                    let bad = Set(receipt.errors.map(\.line))
                    let lines = batch.split(separator: 0x0A, omittingEmptySubsequences: false)
                    for (i, line) in lines.enumerated() where bad.contains(i + 1) {
                        let kept = Array(line)
                        try await blocking { try spool.reject(kept) }
                    }
                }
                start = end + 1
            }
            try await blocking {
                try FileIO.remove(file)
                try FileIO.syncDirectory(spool.directory)
            }
        }
        return report
    }
}
