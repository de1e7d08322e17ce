// libFuzzer target: `Money.parseCents`. Never crashes; a parsed amount is >= 0 and round-trips through
// `formatCents`; the byte and String entry points agree.
import TallyStore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let result = Money.parseCents(bytes)
    if case .success(let v) = result {
        precondition(v >= 0, "negative amount parsed")
        precondition(Money.parseCents(Money.formatCents(v)) == .success(v), "formatCents does not round-trip")
    }
    if let text = String(validating: bytes, as: UTF8.self) {
        precondition(Money.parseCents(text) == result, "String and byte parses disagree")
    }
    return 0
}
