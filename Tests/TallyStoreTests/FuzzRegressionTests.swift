import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// Inputs found by the libFuzzer targets in `Fuzz/` (and by reading the code they point at), kept as
/// regression tests: each once crashed the process; each must now be refused with an error.
@Suite struct FuzzRegressionTests {
    /// Fuzz/footer: a footer whose `rows` (u64) is past `Int.max` trapped in `Int(_:)`.
    @Test func footerRowCountPastIntMaxIsRefused() {
        let footer: [UInt8] = [
            0x00, 0x00, 0x00, 0xE3, 0xEC, 0xE3, 0xE3, 0xEC, 0xE3, 0xE3, 0xE3,
            0xEC, 0xE3, 0xE3, 0xE3, 0xE3, 0xE3, 0xEC, 0xE3, 0xE3, 0xE3, 0xE3,
        ]
        #expect(throws: ByteReader.Overrun.self) { try footer.withUnsafeBytes { try PartFooterCodec.decode($0) } }
    }

    /// Fuzz/footer: hourly rollup codes were taken as stored, so a footer could name a code past its
    /// dictionary (readers index with it). Refused; codes in any order within the dictionary are fine.
    @Test func hourRollupCodesOutsideTheDictionaryAreRefused() throws {
        let at = RandomRecords.Options.defaultEnd - 3_600_000
        let records = (0..<64).map { i in
            CostRecord(tenantID: "t", requestID: "r\(i)", model: i % 2 == 0 ? "a" : "b", inputTokens: 1, outputTokens: 1,
                       costNanos: 1, createdAtMillis: at + Int64(i))
        }
        let (_, meta) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0)
        let d = Dimension.model.rawValue
        let rollup = try #require(try meta.hourRollups.rollup(hour: 0, dimension: d))
        #expect(rollup.codes == [0, 1])
        let valid = try PartFooterCodec.encode(meta)
        #expect((try? valid.withUnsafeBytes { try PartFooterCodec.decode($0) }) != nil)
        var reordered = meta
        var reorderedRollups = try meta.hourRollups
        reorderedRollups.setCodes(hour: 0, dimension: d, [1, 0])
        reordered = try reordered.replacingHourRollups(reorderedRollups)
        let fine = try PartFooterCodec.encode(reordered)
        #expect(try fine.withUnsafeBytes { try PartFooterCodec.decode($0) }.hourRollups.rollup(hour: 0, dimension: d)?.codes == [1, 0])
        for codes: [UInt32] in [[0, 2], [7, 1], [UInt32.max, 0]] {
            var bad = meta
            var badRollups = try meta.hourRollups
            badRollups.setCodes(hour: 0, dimension: d, codes)
            bad = try bad.replacingHourRollups(badRollups)
            let bytes = try PartFooterCodec.encode(bad)
            #expect(throws: ByteReader.Overrun.self, "codes \(codes)") { try bytes.withUnsafeBytes { try PartFooterCodec.decode($0) } }
        }
    }

    /// A trailer whose footer offset (u64) is past `Int.max` trapped in `PartReader.init`.
    @Test func trailerFooterOffsetPastIntMaxIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file: [UInt8] = Array("TALLYPRT".utf8) + [1, 0, 0, 0, 0, 0, 0, 0]
            + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  // footerOffset
            + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  // stored, raw, footer CRC, file CRC
            + [1, 0, 0, 0] + Array("TLP1".utf8)
        let path = dir.appending("bad.part")
        try FileIO.writeAtomically(file, to: path, directory: dir.path)
        #expect(throws: StoreError.self) { try PartReader(path: path) }
    }

    /// A WAL strings frame whose count (varint) is past `Int.max` trapped in replay.
    @Test func walStringsCountPastIntMaxIsCut() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let body: [UInt8] = [3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        var segment = ByteWriter()
        segment.bytes.append(contentsOf: Array("TLYWAL01".utf8))
        segment.u64(1)
        segment.u32(UInt32(body.count))
        segment.u32(CRC32C.checksum(body))
        body.withUnsafeBytes { segment.append($0) }
        try FileIO.writeAtomically(segment.bytes, to: WriteAheadLog.path(dir.path, 1), directory: dir.path)
        let result = try WriteAheadLog.replay(directory: dir.path, from: 1) { _ in Issue.record("nothing is committed") }
        #expect(result.truncated?.reason == "frame does not parse")
    }

    /// A block header stating more rows than its granule made the part reader decode past the end of
    /// a buffer sized from the footer (heap overflow; block headers are not under the block CRC).
    @Test func blockHeaderRowsDisagreeingWithTheFooterAreRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let at = RandomRecords.Options.defaultEnd
        let records = (0..<4).map { i in
            CostRecord(tenantID: "t", requestID: "r\(i)", model: "m", inputTokens: 1, outputTokens: 1, costNanos: 1, createdAtMillis: at)
        }
        let (encoded, meta) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0)
        var bytes = encoded
        // created_at is constant: a delta block of width 0, whose payload fits any row count.
        let block = meta.granules[0].blocks[PartColumn.createdAt.rawValue].offset
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: UInt32(1 << 20).littleEndian, toByteOffset: block + 4, as: UInt32.self) }
        let path = dir.appending("p.part")
        try FileIO.writeAtomically(bytes, to: path, directory: dir.path)
        let reader = try PartReader(path: path)
        #expect(reader.rows == 4)
        #expect(throws: StoreError.self) { try reader.readAll() }
    }
}
