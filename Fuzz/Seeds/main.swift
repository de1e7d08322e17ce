// Writes seed inputs the fuzz targets cannot easily invent: a valid WAL segment (from a CSV body),
// a part footer and column blocks (from a part file written by `tally import`).
// Usage: make-seeds <corpus dir> <csv file> <part file>
import Glibc
import TallyStore

let arguments = CommandLine.arguments
guard arguments.count == 4 else { fatalError("usage: make-seeds <corpus dir> <csv file> <part file>") }
let corpus = arguments[1]

func save(_ bytes: [UInt8], _ target: String, _ name: String) throws {
    let path = "\(corpus)/\(target)/\(name)"
    let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
    defer { close(fd) }
    try FileIO.writeAll(fd, bytes, path: path)
}

// WAL: one segment holding the CSV as one batch, then as a second batch of its first two rows.
let outcome = RecordParser(format: .csv).parse(try FileIO.readAll(arguments[2]))
guard outcome.errors.isEmpty, outcome.batch.count > 2 else { fatalError("the seed CSV does not parse: \(outcome.errors)") }
let walDirectory = "/tmp/tally-make-seeds-\(getpid())"
mkdir(walDirectory, 0o755)
let log = try WriteAheadLog(directory: walDirectory, segment: 1)
var frames = ByteWriter()
log.encode(outcome.batch, rows: Array(0..<outcome.batch.count), into: &frames)
try log.write(frames.bytes)
try save(try FileIO.readAll(WriteAheadLog.path(walDirectory, 1)), "wal", "one-batch")
var more = ByteWriter()
log.encode(outcome.batch, rows: [0, 1], into: &more)
try log.write(more.bytes)
try log.sync()
try save(try FileIO.readAll(WriteAheadLog.path(walDirectory, 1)), "wal", "two-batches")
unlink(WriteAheadLog.path(walDirectory, 1))
rmdir(walDirectory)

// Footer and blocks of a real part.
let reader = try PartReader(path: arguments[3])
try save(PartFooterCodec.encode(reader.meta), "footer", "footer")
for column in PartColumn.allCases {
    let block = Array(reader.block(0, column))
    let mode: UInt8 = switch column {
    case .createdAt, .inputTokens, .outputTokens, .cost: 0
    case .requestID: 2
    default: 1
    }
    for flags: UInt8 in [0, 4, 8] { try save([mode | flags] + block, "block", "\(column.name)-\(flags)") }
}
