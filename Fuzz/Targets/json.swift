// libFuzzer target: the JSON record parser. Whole and chunk-streamed parses must agree, with the
// default limits and with small ones (so the "too long" paths are reached).
import TallyStore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    checkParserAgreement(.json, data, size, limits: IngestLimits())
    checkParserAgreement(.json, data, size, limits: fuzzLimits)
    return 0
}
