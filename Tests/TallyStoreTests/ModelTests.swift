import TallyText
import Testing
@testable import TallyStore
import TallySynthetic

@Suite struct ModelTests {
    @Test(arguments: [
        ("2025-06-01T00:00:00Z", Int64(1_748_736_000_000)),
        ("2025-06-01T00:00:00.123Z", Int64(1_748_736_000_123)),
        ("2025-06-01T02:00:00.5+02:00", Int64(1_748_736_000_500)),
        ("2024-02-29T23:59:59.999Z", Int64(1_709_251_199_999)),
        ("1970-01-01", Int64(0)),
    ])
    func parsesTimestamps(text: String, millis: Int64) throws {
        #expect(try Timestamp.parse(text).get() == millis)
    }

    @Test(arguments: ["2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-06-01T00:00:00", "2025-06-01T00:00:00.1234Z", "garbage", "2025-06-01T24:00:00Z"])
    func rejectsBadTimestamps(text: String) {
        #expect((try? Timestamp.parse(text).get()) == nil)
    }

    @Test func formatsTimestampsRoundTrip() throws {
        for millis: Int64 in [0, 1_748_736_000_123, 1_709_251_199_999, 4_102_444_800_000] {
            #expect(try Timestamp.parse(Timestamp.format(millis)).get() == millis)
        }
    }

    @Test(arguments: [
        ("0", Int64(0)), ("12.3456789", Int64(123_456_789)), ("0.0000001", Int64(1)), ("5", Int64(50_000_000)),
        (".5", Int64(5_000_000)), ("1.50000000", Int64(15_000_000)), ("-0", Int64(0)),
    ])
    func parsesMoney(text: String, nanos: Int64) throws {
        #expect(try Money.parseCents(text).get() == nanos)
        #expect(try Money.parseCents(Money.formatCents(nanos)).get() == nanos)
    }

    @Test func rejectsBadMoney() {
        #expect(Money.parseCents("0.00000001") == .failure(.tooPrecise))
        #expect(Money.parseCents("-1") == .failure(.negative))
        #expect(Money.parseCents("1e5") == .failure(.malformed))
        #expect(Money.parseCents("") == .failure(.malformed))
        #expect(Money.parseCents("99999999999999999999") == .failure(.tooLarge))
    }

    @Test func crc32cMatchesKnownVector() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let split = long.withUnsafeBytes { b in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[500...]), continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[..<500])))
        }
        #expect(split == CRC32C.checksum(long))
    }

    @Test("the CRC-32C instruction path (three folded streams past 12 KiB) equals the table at every length and alignment")
    func crc32cInstructionEqualsTable() {
        #expect(CRC32C.hardware, "this x86-64 machine has SSE 4.2: the instruction path is what runs")
        var rng = Xoshiro256(seed: 32)
        let bytes = (0..<(3 * 4096 * 3 + 100)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        bytes.withUnsafeBytes { all in
            let lengths = Array(0..<80) + [4095, 4096, 12_287, 12_288, 12_289, 24_576, 24_577, 36_863, 36_864]
            for start in [0, 1, 3, 7, 13] {
                for n in lengths where start + n <= all.count {
                    let b = UnsafeRawBufferPointer(rebasing: all[start..<(start + n)])
                    #expect(CRC32C.checksum(b, continuing: 0x1234_5678) == CRC32C.software(b, continuing: 0x1234_5678), "start \(start) n \(n)")
                    #expect(CRC32C.checksum(b) == CRC32C.software(b), "start \(start) n \(n)")
                }
            }
        }
    }

    @Test func internerDedupes() {
        var i = StringInterner()
        let a = i.intern("claude-3-opus"), b = i.intern("gpt-4o"), c = i.intern("claude-3-opus")
        #expect(a == c && a != b && i.count == 2)
        for k in 0..<1000 { _ = i.intern("user-\(k)") }
        #expect(i.intern("user-500") == i.intern("user-500") && i.count == 1002)
    }

    @Test func batchRoundTrip() {
        let r = CostRecord(tenantID: "t1", userID: "u", requestID: "r-1", model: "m", inputTokens: 1, outputTokens: 2, costNanos: 3, createdAtMillis: 4)
        let b = RecordBatch([r, r])
        #expect(b.count == 2 && b[1] == r)
    }
}
