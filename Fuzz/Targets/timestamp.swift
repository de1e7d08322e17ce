// libFuzzer target: `Timestamp.parse`. Never crashes; a parsed instant round-trips through
// `Timestamp.format`; the byte and String entry points agree.
import TallyStore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let result = Timestamp.parse(bytes)
    if case .success(let millis) = result {
        precondition(Timestamp.parse(Timestamp.format(millis)) == .success(millis), "format does not round-trip")
    }
    if let text = String(validating: bytes, as: UTF8.self) {
        precondition(Timestamp.parse(text) == result, "String and byte parses disagree")
    }
    return 0
}
