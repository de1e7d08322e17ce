// Shared by the CSV, NDJSON and JSON targets: parse a body whole and streamed in chunks; both must agree.
import TallyStore

/// A tiny deterministic generator, seeded from the input, so a crash reproduces from its file alone.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D4_9BB1_3311_EB
        return z ^ (z >> 31)
    }
}

/// Small limits, so the fuzzer reaches the "record too long" and "field too long" paths quickly.
let fuzzLimits = IngestLimits(maxFieldBytes: 64, maxRequestIDBytes: 48, maxRecordBytes: 512)

/// Parses `data` whole and in random chunks (a chunk of 0 bytes included) and traps if they disagree.
func checkParserAgreement(_ format: InputFormat, _ data: UnsafePointer<UInt8>, _ size: Int, limits: IngestLimits) {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let whole = RecordParser(format: format, limits: limits).parse(bytes)

    var seed: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { seed = (seed ^ UInt64(b)) &* 0x100_0000_01B3 }
    var rng = SplitMix(state: seed)
    var streaming = StreamingRecordParser(format: format, limits: limits)
    var records: [CostRecord] = [], lines: [Int] = [], errors: [RecordError] = []
    func take(_ o: ParseOutcome) {
        records += o.batch.records
        lines += o.batch.lines
        errors += o.errors
    }
    var offset = 0
    while offset < size {
        let n = min(size - offset, Int(rng.next() % 17))
        take(streaming.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])))
        offset += n
    }
    take(streaming.finish())

    let wholeRecords = whole.batch.records
    guard wholeRecords == records, whole.batch.lines == lines, whole.errors == errors else {
        print("MISMATCH \(format): whole \(wholeRecords.count) records, lines \(whole.batch.lines), errors \(whole.errors)")
        print("MISMATCH \(format): streamed \(records.count) records, lines \(lines), errors \(errors)")
        fatalError("whole and streamed parses disagree")
    }
}
