// libFuzzer target: `PartFooterCodec.decode` on arbitrary bytes; a footer that decodes must
// re-encode to bytes that decode again.
import TallyStore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let meta = try? PartFooterCodec.decode(UnsafeRawBufferPointer(start: data, count: size)) else { return 0 }
    let again = PartFooterCodec.encode(meta)
    guard let back = try? again.withUnsafeBytes({ try PartFooterCodec.decode($0) }) else {
        fatalError("a decoded footer does not decode after re-encoding")
    }
    precondition(back.rows == meta.rows && back.granules.count == meta.granules.count && back.hours.count == meta.hours.count,
                 "footer re-encoding changed it")
    return 0
}
