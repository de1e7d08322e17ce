// libFuzzer target: `BlockDecoder` on an arbitrary column block. Byte 0 picks the decode
// (integers, codes, bytes), whether the CRC is checked and whether the block is lent in place
// (`padded`, with the 8 readable bytes a mapped part guarantees); the rest is the block.
// The output buffer holds the rows the header states, as every caller sizes it.
import TallyStore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    let n = size - 1
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: n + 8, alignment: 16)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0)
    buffer.copyMemory(from: UnsafeRawBufferPointer(start: data + 1, count: n))
    let block = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<n])
    guard let header = BlockDecoder.header(block), header.rows <= 1 << 20, header.rawLength <= 1 << 24 else { return 0 }
    let verify = mode & 4 != 0, padded = mode & 8 != 0
    var decoder = BlockDecoder()
    switch mode % 4 {
    case 0:
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: max(header.rows, 1))
        defer { out.deallocate() }
        if let rows = try? decoder.decodeIntegers(block, verify: verify, padded: padded, into: out) {
            precondition(rows == header.rows, "decoded rows differ from the header")
        }
    case 1:
        let out = UnsafeMutablePointer<UInt32>.allocate(capacity: max(header.rows, 1))
        defer { out.deallocate() }
        if let rows = try? decoder.decodeCodes(block, verify: verify, padded: padded, into: out) {
            precondition(rows == header.rows, "decoded rows differ from the header")
        }
    default:
        var count = 0
        if (try? decoder.decodeBytes(block, verify: verify) { _, b in count += b.count }) != nil {
            precondition(count >= 0)
        }
    }
    return 0
}
