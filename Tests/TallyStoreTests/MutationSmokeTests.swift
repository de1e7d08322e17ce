import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore
import TallySynthetic

/// The short fuzz run of every `make test`: deterministic random mutations (bit flips, byte changes,
/// insertions, deletions, truncations, repeated slices) of valid inputs fed to the decoders the libFuzzer
/// targets in `Fuzz/` cover. It needs no instrumented build; what it checks is that no input traps: each
/// decoder returns or throws. `make fuzz` (coverage-guided) goes much further.
@Suite struct MutationSmokeTests {
    static let rounds = 600

    @Test(arguments: [InputFormat.csv, .ndjson, .json])
    func recordParsersNeverTrapOnMutatedInput(format: InputFormat) throws {
        let seed = try Self.recordsText(format)
        var rng = Xoshiro256(seed: format == .csv ? 11 : format == .ndjson ? 12 : 13)
        var accepted = 0
        for _ in 0..<Self.rounds {
            let input = Self.mutate(seed, &rng)
            let whole = input.withUnsafeBytes { RecordParser(format: format, limits: IngestLimits()).parse($0) }
            // Streaming in small pieces must agree with parsing the whole input.
            var streaming = StreamingRecordParser(format: format, limits: IngestLimits())
            var records = 0, errors = 0
            input.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = min(bytes.count - offset, 1 + Int(rng.next() % 97))
                    let o = streaming.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                    records += o.batch.records.count
                    errors += o.errors.count
                    offset += n
                }
            }
            let last = streaming.finish()
            records += last.batch.records.count
            errors += last.errors.count
            #expect(records == whole.batch.records.count && errors == whole.errors.count)
            accepted += whole.batch.records.count
        }
        #expect(accepted > 0, "some mutations keep valid records")
    }

    @Test func partReaderNeverTrapsOnMutatedFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 9, options: .init(tenants: 1)).records(3_000)
        let (encoded, _) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0)
        var rng = Xoshiro256(seed: 77)
        let path = dir.appending("m.part")
        var refused = 0
        for round in 0..<Self.rounds / 3 {
            // Mutate the footer end most of the time: the blocks are checked by their CRCs on first use.
            let bytes = round % 2 == 0 ? Self.mutate(encoded, &rng) : Self.mutateTail(encoded, &rng, tail: 600)
            try FileIO.writeAtomically(bytes, to: path, directory: dir.path)
            guard let reader = try? PartReader(path: path) else { refused += 1; continue }
            if let rows = try? reader.readAll() { #expect(rows.count == reader.rows) }
            _ = try? reader.verify()
        }
        #expect(refused > 0)
    }

    @Test func footerDecoderNeverTrapsAndWhatItAcceptsReEncodes() throws {
        let records = RandomRecords(seed: 5, options: .init(tenants: 1)).records(4_000)
        let (_, meta) = PartWriter.encode(PartRowsFixture.rows(records), id: 3, level: 0)
        let footer = try PartFooterCodec.encode(meta)
        var rng = Xoshiro256(seed: 1234)
        for _ in 0..<Self.rounds * 2 {
            let input = Self.mutate(footer, &rng)
            guard let decoded = try? input.withUnsafeBytes({ try PartFooterCodec.decode($0) }) else { continue }
            let again = try PartFooterCodec.encode(decoded)
            let back = try again.withUnsafeBytes { try PartFooterCodec.decode($0) }
            #expect(back.rows == decoded.rows && back.hours.count == decoded.hours.count)
        }
    }

    @Test func walReplayNeverTrapsOnMutatedSegments() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var o = StoreOptions()
        o.background = false
        let store = try Store(path: dir.appending("s"), options: o)
        let records = RandomRecords(seed: 2, options: .init(tenants: 3, edgeFraction: 0.2)).records(600)
        for i in stride(from: 0, to: records.count, by: 100) {
            _ = try store.append(RecordBatch(Array(records[i..<(i + 100)])))
        }
        let walDir = dir.appending("s/wal")
        let segment = try #require(WriteAheadLog.segments(in: walDir).first)
        let valid = try [UInt8](Data(contentsOf: URL(fileURLWithPath: WriteAheadLog.path(walDir, segment))))
        try store.close()
        let scratch = dir.appending("replay")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var rng = Xoshiro256(seed: 99)
        for _ in 0..<Self.rounds / 3 {
            for s in WriteAheadLog.segments(in: scratch) { unlink(WriteAheadLog.path(scratch, s)) }
            try FileIO.writeAtomically(Self.mutate(valid, &rng), to: WriteAheadLog.path(scratch, 1), directory: scratch)
            var rows = 0
            guard let first = try? WriteAheadLog.replay(directory: scratch, from: 1, repair: true, apply: { rows += $0.count })
            else { continue }
            #expect(rows == first.records)
            let second = try WriteAheadLog.replay(directory: scratch, from: 1, repair: true) { _ in }
            #expect(second.truncated == nil && second.records == first.records)
        }
    }

    // MARK: - Inputs and mutations

    static func recordsText(_ format: InputFormat) throws -> [UInt8] {
        let records = RandomRecords(seed: 3, options: .init(tenants: 2, edgeFraction: 0.3)).records(40)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("records")
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        var writer = switch format {
        case .csv: RecordWriter(format: .csv, fileDescriptor: fd)
        case .ndjson: RecordWriter(format: .ndjson, fileDescriptor: fd)
        case .json: RecordWriter.jsonArray(fileDescriptor: fd)
        }
        try writer.write(records)
        try writer.finish()
        close(fd)
        return try FileIO.readAll(path)
    }

    static func mutate(_ input: [UInt8], _ rng: inout Xoshiro256) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            guard !b.isEmpty else { b = [UInt8(truncatingIfNeeded: rng.next())]; continue }
            let i = Int(rng.next() % UInt64(b.count))
            switch rng.next() % 7 {
            case 0: b[i] ^= UInt8(1) << UInt8(rng.next() % 8)
            case 1: b[i] = UInt8(truncatingIfNeeded: rng.next())
            case 2: b[i] = [0x00, 0xFF, 0x7F, 0x80, 0x22, 0x2C, 0x0A, 0x5C, 0x7B, 0x5B][Int(rng.next() % 10)]
            case 3: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
            case 4: b.remove(at: i)
            case 5: b.removeLast(min(b.count, 1 + Int(rng.next() % 64)))
            default:
                let n = min(b.count - i, 1 + Int(rng.next() % 32))
                b.insert(contentsOf: b[i..<(i + n)], at: Int(rng.next() % UInt64(b.count)))
            }
        }
        return b
    }

    static func mutateTail(_ input: [UInt8], _ rng: inout Xoshiro256, tail: Int) -> [UInt8] {
        var b = input
        let from = max(0, b.count - tail)
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            let i = from + Int(rng.next() % UInt64(b.count - from))
            b[i] ^= UInt8(1) << UInt8(rng.next() % 8)
        }
        return b
    }
}
