// Release-mode late-ingest measurement: see scripts/late-ingest-bench.sh.
import Foundation
import TallyStore

// Arguments: [stored rows] [part version: 2, or 1 for the old path without filters]
let arguments = CommandLine.arguments
let stored = arguments.count > 1 ? Int(arguments[1]) ?? 1_000_000 : 1_000_000
let version = arguments.count > 2 ? UInt16(arguments[2]) ?? PartFormat.version : PartFormat.version
let run = LateIngestRun(storedRows: stored, partVersion: version)
let setupStart = Date()
try run.start()
print("store of \(stored) records over 60 days (200 tenants), parts v\(version), built in \(String(format: "%.1f", Date().timeIntervalSince(setupStart))) s;",
      "\(run.late.count) late and \(run.recent.count) recent batches of \(run.batchRows)")
// Interleave late and recent batches in proportion, so both meet the same head and parts throughout.
var seconds = (late: 0.0, recent: 0.0), rows = (late: 0, recent: 0)
var done = (late: 0, recent: 0)
while done.late < run.late.count || done.recent < run.recent.count {
    let isLate = done.recent == run.recent.count
        || (done.late < run.late.count && done.late * run.recent.count <= done.recent * run.late.count)
    let batch = isLate ? run.late[done.late] : run.recent[done.recent]
    let t0 = DispatchTime.now().uptimeNanoseconds
    try run.append(batch)
    let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    if isLate {
        seconds.late += s; rows.late += batch.count; done.late += 1
    } else {
        seconds.recent += s; rows.recent += batch.count; done.recent += 1
    }
}
let lateRate = Double(rows.late) / seconds.late, recentRate = Double(rows.recent) / seconds.recent
print(String(format: "late   %8d records  %9.0f records/s", rows.late, lateRate))
print(String(format: "recent %8d records  %9.0f records/s", rows.recent, recentRate))
print(String(format: "late / recent = %.2f", lateRate / recentRate))
run.finish()
