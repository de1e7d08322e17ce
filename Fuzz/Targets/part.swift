// libFuzzer target: a part file of arbitrary bytes. Opening, `readAll` and `verify` must throw
// cleanly or succeed, never crash.
import Glibc
import TallyStore

let partPath: String = "/tmp/tally-fuzz-part-\(getpid()).part"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let fd = try FileIO.open(partPath, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try FileIO.writeAll(fd, UnsafeRawBufferPointer(start: data, count: size), path: partPath)
    } catch {
        fatalError("cannot write the fuzz part: \(error)")
    }
    guard let reader = try? PartReader(path: partPath) else { return 0 }
    if let rows = try? reader.readAll() {
        precondition(rows.count == reader.meta.rows, "readAll returned a row count the footer does not state")
    }
    _ = try? reader.verify()
    return 0
}
