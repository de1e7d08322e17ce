import Foundation
import TallyTestSupport
import TallyText
import Testing
@testable import TallyStore
@testable import TallySynthetic

@Suite struct SyntheticTests {
    static let small = SyntheticGenerator.Options(rows: 3000, days: 10, seed: 7, tenants: 30)

    // MARK: Generator

    @Test func sameSeedSameRecordsWhateverTheChunkSize() {
        let a = SyntheticGenerator(Self.small).records()
        let b = SyntheticGenerator(Self.small).records()
        var c: [CostRecord] = []
        SyntheticGenerator(Self.small).generate(chunkSize: 77) { c.append(contentsOf: $0.records) }
        #expect(a == b)
        #expect(a == c)
    }

    @Test func differentSeedDifferentRecords() {
        var other = Self.small
        other.seed = 8
        let a = SyntheticGenerator(Self.small).records()
        let b = SyntheticGenerator(other).records()
        #expect(a.count == b.count)
        #expect(Set(a.map(\.requestID)).isDisjoint(with: b.map(\.requestID)))
        #expect(SyntheticGenerator(Self.small).tenantIDs != SyntheticGenerator(other).tenantIDs)
    }

    @Test(arguments: [0, 1, 13, 1000, 4097])
    func exactRowCount(rows: Int) {
        var o = Self.small
        o.rows = rows
        var total = 0, batches = 0
        SyntheticGenerator(o).generate(chunkSize: 1024) { batch in
            #expect(batch.count > 0 && batch.count <= 1024)
            total += batch.count
            batches += 1
        }
        #expect(total == rows)
        #expect(batches == (rows + 1023) / 1024)
    }

    @Test func recordsFollowTheContract() throws {
        let g = SyntheticGenerator(Self.small)
        let records = g.records()
        let prices = Dictionary(uniqueKeysWithValues: SyntheticCatalog.models.map { ($0.name, $0) })
        let tenants = Set(g.tenantIDs)
        for r in records {
            #expect(tenants.contains(r.tenantID))
            #expect(g.window.contains(r.createdAtMillis))
            let price = try #require(prices[r.model])
            #expect(r.costNanos == r.inputTokens * price.inputNanosPerToken + r.outputTokens * price.outputNanosPerToken)
            #expect(r.inputTokens >= 1 && r.inputTokens <= 200_000 && r.outputTokens >= 1 && r.outputTokens <= 16_384)
            #expect(["prod", "staging", "dev"].contains(r.environment))
            #expect(!r.userID.isEmpty && !r.projectID.isEmpty && !r.workflowID.isEmpty && !r.skillID.isEmpty)
        }
        let prod = Double(records.filter { $0.environment == "prod" }.count) / Double(records.count)
        #expect(prod > 0.70 && prod < 0.80)
        #expect(Set(records.map(\.featureTag)).count > 20)
    }

    @Test func requestIDsAreUniqueVersion4UUIDs() {
        let records = SyntheticGenerator(Self.small).records()
        #expect(Set(records.map(\.requestID)).count == records.count)
        for r in records.prefix(200) {
            let b = Array(r.requestID.utf8)
            #expect(b.count == 36)
            #expect(b[8] == 45 && b[13] == 45 && b[18] == 45 && b[23] == 45)
            #expect(b[14] == UInt8(ascii: "4"))
            #expect([UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(b[19]))
            #expect(b.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || $0 == 45 })
        }
    }

    @Test func aboutTwoPercentOfRowsAreLateByAtMostTwoHours() {
        let g = SyntheticGenerator(.init(rows: 20_000, days: 8, seed: 3, tenants: 50))
        var late = 0
        var latest = Int64.min
        for r in g.records() {
            if r.createdAtMillis < latest {
                late += 1
                #expect(latest - r.createdAtMillis <= 2 * TimeUnit.hourMillis + 60_000)
            } else {
                latest = r.createdAtMillis
            }
        }
        let fraction = Double(late) / 20_000
        #expect(fraction > 0.012 && fraction < 0.028, "late fraction \(fraction)")

        let none = SyntheticGenerator(.init(rows: 2000, days: 8, seed: 3, lateFraction: 0)).records()
        #expect(zip(none, none.dropFirst()).allSatisfy { $0.createdAtMillis <= $1.createdAtMillis })
    }

    @Test func largestTenantHasTenToTwentyPercentOfRows() {
        let g = SyntheticGenerator(.init(rows: 20_000, days: 10, seed: 11))
        #expect(g.tenantIDs.count == 200)
        #expect(zip(g.tenantShares, g.tenantShares.dropFirst()).allSatisfy { $0 >= $1 })
        var counts: [String: Int] = [:]
        for r in g.records() { counts[r.tenantID, default: 0] += 1 }
        let top = counts[g.tenantIDs[0]] ?? 0
        #expect(counts.values.max() == top)
        let share = Double(top) / 20_000
        #expect(share > 0.10 && share < 0.20, "largest tenant share \(share)")
        // Zipf: a long tail of small tenants.
        #expect(counts.count > 150)
        #expect(counts.values.filter { $0 < 50 }.count > 100)
    }

    @Test(arguments: [1, 2, 5])
    func fewTenantsStillOrderedBySize(tenants: Int) {
        let g = SyntheticGenerator(.init(rows: 500, days: 10, seed: 1, tenants: tenants))
        #expect(g.tenantIDs.count == tenants)
        #expect(abs(g.tenantShares.reduce(0, +) - 1) < 1e-9)
        #expect(zip(g.tenantShares, g.tenantShares.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(g.records().count == 500)
    }

    @Test func shortWindowsHaveNoAnomalies() {
        #expect(SyntheticGenerator(.init(rows: 10, days: 7)).anomalies.isEmpty)
        #expect(SyntheticGenerator(.init(rows: 10, days: 1)).records().count == 10)
    }

    /// Each spiking tenant's volume, relative to the tenants without anomalies, doubles during its spike;
    /// each drifting tenant's tokens per call (relative to its feature's median) grow by the drift factor.
    @Test func injectedAnomaliesShowInTheData() throws {
        let g = SyntheticGenerator(.init(rows: 60_000, days: 14, seed: 5, tenants: 20))
        let spikes = g.anomalies.filter { $0.kind == .spike }
        let drifts = g.anomalies.filter { $0.kind == .drift }
        #expect(spikes.count == 3 && drifts.count == 4)
        let anomalous = Set(g.anomalies.map(\.tenantID))
        // The largest tenant (the demo's) drifts; it never spikes (its share of rows stays as drawn).
        #expect(drifts.contains { $0.tenantID == g.tenantIDs[0] })
        #expect(!spikes.contains { $0.tenantID == g.tenantIDs[0] })
        #expect(anomalous.isSubset(of: g.tenantIDs))

        // Rows per (tenant, day), and rows of the tenants without anomalies per day.
        let days = 14
        let start = g.window.lowerBound
        var perTenantDay: [String: [Int]] = [:]
        var baseline = [Int](repeating: 0, count: days)
        let median = Dictionary(uniqueKeysWithValues: SyntheticCatalog.features.map { ($0.tag, $0.medianInputTokens) })
        var driftSums: [String: (before: Double, nb: Int, after: Double, na: Int)] = [:]
        let driftStart = try #require(drifts.first).start
        for r in g.records() {
            let day = Int((r.createdAtMillis - start) / TimeUnit.dayMillis)
            perTenantDay[r.tenantID, default: [Int](repeating: 0, count: days)][day] += 1
            if !anomalous.contains(r.tenantID) { baseline[day] += 1 }
            if drifts.contains(where: { $0.tenantID == r.tenantID }) {
                let x = Double(r.inputTokens) / median[r.featureTag]!
                var s = driftSums[r.tenantID, default: (0, 0, 0, 0)]
                if r.createdAtMillis < driftStart {
                    s.before += x; s.nb += 1
                } else if r.createdAtMillis >= driftStart + TimeUnit.dayMillis {
                    s.after += x; s.na += 1
                }
                driftSums[r.tenantID] = s
            }
        }
        for spike in spikes {
            let counts = try #require(perTenantDay[spike.tenantID])
            var inside = 0.0, insideBase = 0.0, outside = 0.0, outsideBase = 0.0
            for d in 0..<days {
                let dayStart = start + Int64(d) * TimeUnit.dayMillis
                if dayStart >= spike.start && dayStart < spike.end {
                    inside += Double(counts[d]); insideBase += Double(baseline[d])
                } else {
                    outside += Double(counts[d]); outsideBase += Double(baseline[d])
                }
            }
            let ratio = (inside / insideBase) / (outside / outsideBase)
            #expect(ratio > 1.6 && ratio < 2.5, "spike of \(spike.tenantID): x\(ratio)")
        }
        for drift in drifts {
            let s = try #require(driftSums[drift.tenantID])
            let ratio = (s.after / Double(s.na)) / (s.before / Double(s.nb))
            #expect(drift.factor >= 1.45 && drift.factor <= 1.60)
            #expect(ratio > drift.factor - 0.15 && ratio < drift.factor + 0.15, "drift of \(drift.tenantID): x\(ratio), planted x\(drift.factor)")
        }
    }

    // MARK: Writer

    @Test func csvRoundTripsEveryField() throws {
        let records = RandomRecords(seed: 1, options: .init(tenants: 4, edgeFraction: 0.5)).records(400)
            + SyntheticGenerator(.init(rows: 9000, days: 3, seed: 2)).records()  // > 1 MiB: several flushes
        let text = try written(records, .csv)
        let rows = try parseCSV(text)
        #expect(rows.first == RecordWriter.fieldNames)
        #expect(text.hasPrefix("tenant_id,project_id,environment,user_id,feature_tag,request_id,workflow_id,skill_id,model,input_tokens,output_tokens,cost_cents,created_at\n"))
        #expect(rows.count == records.count + 1)
        for (r, row) in zip(records, rows.dropFirst()) {
            #expect(row == fields(r))
        }
        #expect(text.contains(#","acme, inc.","#))
        #expect(text.contains(",\"line1\nline2\",\"say \"\"hi\"\"\","))
        #expect(text.contains(",\"crlf\r\nend\",\"\"\"quoted\"\"\","))
    }

    @Test func ndjsonRoundTripsEveryField() throws {
        let records = RandomRecords(seed: 2, options: .init(tenants: 4, edgeFraction: 0.5)).records(400)
        let text = try written(records, .ndjson)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == records.count + 1 && lines.last == "")
        for (r, line) in zip(records, lines) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object.count == 13)
            for (name, value) in zip(RecordWriter.fieldNames, fields(r)) {
                if name == "input_tokens" || name == "output_tokens" {
                    #expect((object[name] as? NSNumber)?.int64Value == Int64(value))
                } else {
                    #expect(object[name] as? String == value, "\(name)")
                }
            }
            // Keys in the contract's order.
            let keys = RecordWriter.fieldNames.map { "\"\($0)\":" }
            let positions = keys.map { line.range(of: $0)!.lowerBound }
            #expect(positions == positions.sorted())
        }
        #expect(text.contains(#""project_id":"back\\slash""#))
        #expect(text.contains(#""feature_tag":"tab\there""#))
        #expect(text.contains(#""user_id":"bell\u0007nul\u0001""#))
        #expect(text.contains(#""feature_tag":"say \"hi\"""#))
    }

    @Test func csvHeaderAloneForNoRecords() throws {
        #expect(try written([], .csv) == RecordWriter.fieldNames.joined(separator: ",") + "\n")
        #expect(try written([], .ndjson) == "")
    }

    // MARK: Test support

    @Test func randomRecordsHonourTheirKnobs() {
        let options = RandomRecords.Options(tenants: 5, lateFraction: 0.1, duplicateFraction: 0.1, edgeFraction: 0.2)
        let records = RandomRecords(seed: 4, options: options).records(5000)
        #expect(records == RandomRecords(seed: 4, options: options).records(5000))
        let keys = records.map { "\($0.tenantID)/\($0.requestID)" }
        let duplicates = Double(keys.count - Set(keys).count) / 5000
        #expect(duplicates > 0.07 && duplicates < 0.13)
        #expect(records.allSatisfy { options.window.contains($0.createdAtMillis) })
        #expect(records.contains { $0.tenantID.utf8.count == 64 })
        #expect(records.contains { $0.costNanos == 1 } && records.contains { $0.costNanos == 0 })
        #expect(records.contains { $0.userID.isEmpty })
        // Late among first occurrences (an exact duplicate repeats an earlier time, so it is late too).
        var late = 0, latest = Int64.min, seen = Set<String>()
        for (r, key) in zip(records, keys) where seen.insert(key).inserted {
            if r.createdAtMillis < latest { late += 1 } else { latest = r.createdAtMillis }
        }
        #expect(late > 250 && late < 650, "\(late) late")
    }

    @Test func temporaryDirectoriesAreFreshAndRemoved() async throws {
        let kept = try await withTemporaryDirectory { path in
            #expect(FileIO.exists(path))
            let fd = try FileIO.open(path + "/f", O_WRONLY | O_CREAT)
            try FileIO.writeAll(fd, [1, 2, 3], path: path + "/f")
            close(fd)
            try FileIO.makeDirectory(path + "/sub")
            return path
        }
        #expect(!FileIO.exists(kept))
        let a = try TemporaryDirectory(), b = try TemporaryDirectory()
        #expect(a.path != b.path && a.path.hasPrefix("/tmp/"))
        a.remove()
        b.remove()
        #expect(!FileIO.exists(a.path) && !FileIO.exists(b.path))
    }

    // MARK: Helpers

    private func written(_ records: [CostRecord], _ format: RecordFileFormat) throws -> String {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("out")
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        var writer = RecordWriter(format: format, fileDescriptor: fd)
        // Several batches, to cover per-batch string tables.
        var i = 0
        while i < records.count {
            try writer.write(Array(records[i..<min(records.count, i + 3000)]))
            i += 3000
        }
        try writer.flush()
        close(fd)
        return String(decoding: try FileIO.readAll(path), as: UTF8.self)
    }

    private func fields(_ r: CostRecord) -> [String] {
        [r.tenantID, r.projectID, r.environment, r.userID, r.featureTag, r.requestID, r.workflowID, r.skillID, r.model,
         String(r.inputTokens), String(r.outputTokens), Money.formatCents(r.costNanos), Timestamp.format(r.createdAtMillis)]
    }

    /// A strict RFC 4180 reader: every record ends with LF; quoted fields may hold anything.
    private func parseCSV(_ text: String) throws -> [[String]] {
        struct Malformed: Error {}
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        let b = Array(text.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 34, field.isEmpty {
                i += 1
                while true {
                    guard i < b.count else { throw Malformed() }
                    if b[i] == 34 {
                        if i + 1 < b.count, b[i + 1] == 34 { field.append(34); i += 2; continue }
                        i += 1
                        break
                    }
                    field.append(b[i]); i += 1
                }
                guard i < b.count, b[i] == 44 || b[i] == 10 else { throw Malformed() }
                continue
            }
            switch b[i] {
            case 44:
                row.append(String(decoding: field, as: UTF8.self)); field = []
            case 10:
                row.append(String(decoding: field, as: UTF8.self)); field = []
                rows.append(row); row = []
            case 34, 13:
                throw Malformed()
            default:
                field.append(b[i])
            }
            i += 1
        }
        guard field.isEmpty, row.isEmpty else { throw Malformed() }
        return rows
    }
}
