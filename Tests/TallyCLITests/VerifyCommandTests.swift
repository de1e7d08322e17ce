#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// `tally verify` as an operator runs it: it never changes a byte of the store, and it fails (exit 1) naming
/// what is damaged or lost, WAL damage included.
@Suite struct VerifyCommandTests {
    static func tally(_ args: [String]) throws -> TallyRun { try runTally(args) }

    /// Every file and directory under `root` with its bytes (directories map to []), and each one's size and mtime.
    static func snapshot(_ root: String) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        func walk(_ dir: String) throws {
            for name in FileIO.list(dir) {
                let p = dir + "/" + name
                var st = stat()
                guard lstat(p, &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    out[p + "/"] = []
                    try walk(p)
                } else {
                    out[p] = try FileIO.readAll(p) + Array("@\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)".utf8)
                }
            }
        }
        try walk(root)
        return out
    }

    /// Runs `tally verify` and expects the data directory unchanged, file for file and byte for byte.
    static func verifyChangesNothing(_ dir: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) throws -> TallyRun {
        let before = try snapshot(dir.path)
        let run = try tally(["verify", "--data", dir.path])
        let after = try snapshot(dir.path)
        #expect(Set(after.keys) == Set(before.keys), "verify added or removed \(Set(after.keys).symmetricDifference(before.keys).sorted())",
                sourceLocation: sourceLocation)
        for (path, bytes) in before where after[path] != nil && after[path] != bytes {
            Issue.record("verify changed \(path)", sourceLocation: sourceLocation)
        }
        return run
    }

    @Test("verify of a store with unsealed WAL rows and parts changes nothing and passes")
    func unsealedWAL() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        for k in 0..<3 { _ = try store.append(WALFixture.batch(k)) }
        try store.flush()
        for k in 3..<6 { _ = try store.append(WALFixture.batch(k)) }
        store.abandon()
        let run = try Self.verifyChangesNothing(dir)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("\(6 * WALFixture.perBatch) rows"), "\(run.out)")
    }

    @Test("verify beside a running writer (the directory locked) checks without waiting or changing anything")
    func besideAWriter() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        for k in 0..<3 { _ = try store.append(WALFixture.batch(k)) }
        let run = try Self.verifyChangesNothing(dir)
        #expect(run.status == 0, "\(run.err)")
    }

    @Test("verify of a WAL with a damaged middle batch changes nothing, exits 1, and names segment, bytes, batches and records")
    func walDamage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir, segments: 2, perSegment: 5)
        let frames = try WALFixture.frames(segments[0])
        let record = frames.filter { $0.type == 1 }[WALFixture.perBatch * 2 + 1]
        try WALFixture.flip(segments[0], at: record.offset + 8 + 3)
        let run = try Self.verifyChangesNothing(dir)
        #expect(run.status == 1)
        let line = try #require(run.err.split(separator: "\n").first { $0.hasPrefix("lost:") }, "\(run.err)")
        for expected in ["0000000000000001.wal", "bytes ", "1 batch", "\(WALFixture.perBatch) records", "checksum mismatch"] {
            #expect(line.contains(expected), "\(line)")
        }
        #expect(!run.out.contains("every checksum matches"))
    }

    @Test("verify of a torn WAL tail (a crash) changes nothing and passes")
    func tornTail() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir, segments: 1, perSegment: 4)
        let size = try #require(FileIO.fileSize(segments[0]))
        #expect(truncate(segments[0], off_t(size - 9)) == 0)
        let run = try Self.verifyChangesNothing(dir)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.err.contains("read up to"), "\(run.err)")
    }

    @Test("verify of a damaged part changes nothing (the part stays where it is) and exits 1 naming it")
    func damagedPart() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        for k in 0..<20 { _ = try store.append(WALFixture.batch(k)) }
        try store.close()
        let part = try #require(FileIO.list(dir.path + "/parts").first)
        var bytes = try FileIO.readAll(dir.path + "/parts/" + part)
        bytes[bytes.count / 3] ^= 0x55
        try FileIO.writeAtomically(bytes, to: dir.path + "/parts/" + part, directory: dir.path + "/parts")
        let run = try Self.verifyChangesNothing(dir)
        #expect(run.status == 1)
        #expect(run.err.contains(part))
        #expect(FileIO.exists(dir.path + "/parts/" + part))
    }

    @Test("a loss recorded by an earlier open keeps verify failing after the damaged segment is trimmed")
    func recordedLossAfterTrim() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir, segments: 2, perSegment: 3)
        let frames = try WALFixture.frames(segments[1])
        try WALFixture.flip(segments[1], at: frames.first { $0.type == 2 }!.offset + 10)
        try Store(path: dir.path, options: testOptions()).close()
        #expect(WriteAheadLog.segments(in: dir.path + "/wal").allSatisfy { $0 > 2 })
        let run = try Self.verifyChangesNothing(dir)
        #expect(run.status == 1)
        #expect(run.err.contains("lost: WAL segment 0000000000000002.wal"), "\(run.err)")
        #expect(run.err.contains("at least 1 acknowledged batch"), "\(run.err)")
    }
}
