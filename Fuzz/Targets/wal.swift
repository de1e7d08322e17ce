// libFuzzer target: WAL replay of arbitrary bytes as segment 1. Replay must never crash; after a
// repairing replay, a second replay must find the same batches and nothing left to cut.
import Glibc
import TallyStore

let walDirectory: String = {
    let d = "/tmp/tally-fuzz-wal-\(getpid())"
    mkdir(d, 0o755)
    return d
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    for s in WriteAheadLog.segments(in: walDirectory) { unlink(WriteAheadLog.path(walDirectory, s)) }
    let path = WriteAheadLog.path(walDirectory, 1)
    // Frames are CRC-checked, so mutated bodies would stop at the checksum: give every whole frame
    // its right CRC, except frames whose stored CRC is 0 (they keep testing the mismatch path).
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var offset = WriteAheadLog.headerSize
    while bytes.count - offset >= 8 {
        let len = bytes.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        guard len <= bytes.count - offset - 8 else { break }
        bytes.withUnsafeMutableBytes { b in
            guard b.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) != 0 else { return }
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(offset + 8)..<(offset + 8 + len)]))
            b.storeBytes(of: crc.littleEndian, toByteOffset: offset + 4, as: UInt32.self)
        }
        offset += 8 + len
    }
    do {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try FileIO.writeAll(fd, bytes, path: path)
    } catch {
        fatalError("cannot write the fuzz segment: \(error)")
    }
    var rows = 0
    let first: WriteAheadLog.ReplayResult
    do {
        first = try WriteAheadLog.replay(directory: walDirectory, from: 1, repair: true) { rows += $0.count }
    } catch {
        return 0
    }
    precondition(rows == first.records, "applied rows differ from the replay count")
    guard let second = try? WriteAheadLog.replay(directory: walDirectory, from: 1, repair: true, apply: { _ in }) else {
        fatalError("a repaired log does not replay")
    }
    precondition(second.truncated == nil, "a repaired log was cut again: \(second.truncated!)")
    precondition(second.batches == first.batches && second.records == first.records, "a repaired log lost batches")
    return 0
}
