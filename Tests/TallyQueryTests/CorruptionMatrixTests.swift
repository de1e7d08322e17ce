import Foundation
import Synchronization
import Testing
import TallyTestSupport
@testable import TallyQuery
@testable import TallyStore
#if canImport(Glibc)
import Glibc
#endif

/// The corruption matrix of docs/RELIABILITY.md: one byte flipped in every kind of file a store holds, at many
/// offsets, each case opened and read the way a user would (records, and a grouped query with and without rollups),
/// and classified against the reference answer:
///
/// - **harmless**: every answer equals the reference and nothing was reported (the byte was not trusted).
/// - **repaired**: every answer equals the reference, and the damage was reported and set aside (or the open refused
///   a damaged MANIFEST and `tally repair`'s `Store.repair` rebuilt it).
/// - **detected**: the store refused to open, or reported the damage (quarantined part, lost WAL batch, answer
///   marked incomplete), and what it did answer is a subset of the truth: no record changed or invented.
/// - **silently wrong**: an answer differs from the truth with nothing said. Must be 0.
@Suite("Corruption matrix: every file kind, many offsets, never silently wrong")
struct CorruptionMatrixTests {
    enum Outcome: String, CaseIterable { case harmless, repaired, detected, silentlyWrong = "silently wrong" }

    struct Kind: Sendable {
        var name: String
        /// The file, relative to the store, and the byte ranges of the kind inside it.
        var file: String
        var ranges: [Range<Int>]
    }

    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.durability = .buffered
        o.background = false
        o.sealRows = 1_000_000
        o.maxHeadRows = 4_000_000
        o.granuleRows = 64
        return o
    }

    /// A store with sealed parts for three tenants and two acknowledged batches only in the WAL, left as a crash
    /// leaves it (no seal at close); its records.
    static func template(_ dir: String) throws -> [CostRecord] {
        let records = RandomRecords(seed: 91, options: .init(tenants: 3, usersPerTenant: 8)).records(900)
        let store = try Store(path: dir, options: options())
        _ = try store.append(RecordBatch(records[0..<300]))
        _ = try store.append(RecordBatch(records[300..<700]))
        try store.flush()
        _ = try store.append(RecordBatch(records[700..<800]))
        _ = try store.append(RecordBatch(records[800..<900]))
        store.abandon()
        return records
    }

    /// The kinds of bytes, located in the template's files.
    static func kinds(_ dir: String) throws -> [Kind] {
        var kinds: [Kind] = []
        let wal = try #require(FileIO.list(dir + "/wal").first { $0.hasSuffix(".wal") })
        let walSize = try FileIO.readAll(dir + "/wal/" + wal).count
        kinds.append(Kind(name: "WAL segment header", file: "wal/" + wal, ranges: [0..<WriteAheadLog.headerSize]))
        kinds.append(Kind(name: "WAL frames", file: "wal/" + wal, ranges: [WriteAheadLog.headerSize..<walSize]))
        let manifest = try FileIO.readAll(dir + "/MANIFEST").count
        kinds.append(Kind(name: "MANIFEST", file: "MANIFEST", ranges: [0..<manifest]))
        var header: [Range<Int>] = [], blockHeaders: [Range<Int>] = [], payloads: [Range<Int>] = []
        var footers: [Range<Int>] = [], trailers: [Range<Int>] = []
        let parts = FileIO.list(dir + "/parts").sorted()
        try #require(parts.count >= 3)
        // Ranges of the first part (every part has the same layout); offsets are spread over it.
        let name = parts[0]
        let reader = try PartReader(path: dir + "/parts/" + name)
        header.append(0..<PartFormat.headerSize)
        for g in reader.meta.granules {
            for ref in g.blocks {
                blockHeaders.append(ref.offset..<(ref.offset + BlockHeader.size))
                payloads.append((ref.offset + BlockHeader.size)..<(ref.offset + ref.length))
            }
        }
        let lastBlockEnd = reader.meta.granules.flatMap(\.blocks).map { $0.offset + $0.length }.max() ?? PartFormat.headerSize
        footers.append(lastBlockEnd..<(reader.fileSize - PartFormat.trailerSize))
        trailers.append((reader.fileSize - PartFormat.trailerSize)..<reader.fileSize)
        let file = "parts/" + name
        let cost = reader.meta.granules[0].blocks[PartColumn.cost.rawValue].offset
        // Its costs are priced from the tokens (part format v3): the flips below hit the price table and residuals.
        try #require(try reader.costIsPriced(0))
        kinds += [
            // Every byte of one cost block's header: its encoding, widths and counts decide the sums.
            Kind(name: "cost block header (every byte)", file: file, ranges: [cost..<(cost + BlockHeader.size)]),
            Kind(name: "part header", file: file, ranges: header),
            Kind(name: "block header", file: file, ranges: blockHeaders),
            Kind(name: "block payload", file: file, ranges: payloads),
            Kind(name: "part footer", file: file, ranges: footers),
            Kind(name: "part trailer", file: file, ranges: trailers),
        ]
        return kinds
    }

    /// Up to `count` offsets spread evenly over `ranges` (all of them when there are fewer).
    static func offsets(_ ranges: [Range<Int>], count: Int) -> [Int] {
        let all = ranges.flatMap { Array($0) }
        guard all.count > count else { return all }
        return (0..<count).map { all[$0 * all.count / count] }
    }

    /// What happens to the byte: a flipped low or high bit, or a changed value (an encoding 1 becomes 2).
    static let changes: [(name: String, apply: @Sendable (UInt8) -> UInt8)] = [
        ("bit 0 flipped", { $0 ^ 0x01 }), ("bit 7 flipped", { $0 ^ 0x80 }), ("plus 1", { $0 &+ 1 }), ("minus 1", { $0 &- 1 }),
    ]

    static func copyStore(_ from: String, _ to: String) throws {
        for sub in ["", "/parts", "/wal", "/quarantine"] {
            try FileIO.makeDirectory(to + sub)
            var isDirectory: ObjCBool = false
            for name in FileIO.list(from + sub)
            where FileManager.default.fileExists(atPath: from + sub + "/" + name, isDirectory: &isDirectory) && !isDirectory.boolValue {
                try FileManager.default.copyItem(atPath: from + sub + "/" + name, toPath: to + sub + "/" + name)
            }
        }
    }

    /// Multiset of records keyed by everything a record holds.
    static func counted(_ records: [CostRecord]) -> [String: Int] {
        var m: [String: Int] = [:]
        for r in records { m["\(r)", default: 0] += 1 }
        return m
    }

    static func isSubset(_ a: [String: Int], of b: [String: Int]) -> Bool {
        a.allSatisfy { b[$0.key, default: 0] >= $0.value }
    }

    /// Opens the damaged store and reads it as a user would; classifies what happened.
    static func classify(_ dir: String, truth: [CostRecord]) -> (Outcome, String, lost: Int) {
        let store: Store
        var repaired = false
        do {
            store = try Store(path: dir, options: options())
        } catch StoreError.damagedManifest {
            // The open names `tally repair`; an operator runs it, and the store must come back whole.
            do {
                _ = try Store.repair(path: dir)
                store = try Store(path: dir, options: options())
                repaired = true
            } catch {
                return (.detected, "refused at open, repair failed: \(error)", truth.count)
            }
        } catch {
            return (.detected, "refused at open: \(error)", truth.count)
        }
        defer { try? store.close() }
        var errors: [String] = []
        // Queries first, as a server answers them before anything else reads the damaged bytes: with and without
        // the footer's rollups (the scan path and the rollup path).
        let queries = [false, true].compactMap { rollups in
            try? Query(tenants: .all, groupBy: [.tenant], aggregates: [.count, .inputTokens, .outputTokens, .cost], useRollups: rollups)
        }
        var answers: [(Query, QueryResult)] = []
        for q in queries {
            do { answers.append((q, try store.query(q))) } catch { errors.append("\(error)") }
        }
        var got: [CostRecord]?
        // A read that finds a damaged block quarantines its part and throws; a second read answers without it.
        for _ in 0..<4 {
            do {
                got = try store.snapshot().records()
                break
            } catch {
                errors.append("\(error)")
            }
        }
        guard let got else { return (.detected, "every read failed: " + errors.joined(separator: "; "), truth.count) }
        let reported = repaired || !errors.isEmpty || damageReported(store)
        let reference = counted(truth), answer = counted(got)
        let truthOracle = ReferenceAggregator(records: truth), readOracle = ReferenceAggregator(records: got)
        if answer == reference && answers.allSatisfy({ $0.1 == truthOracle.run($0.0) }) && answers.count == queries.count {
            return (reported ? .repaired : .harmless, errors.first ?? "", 0)
        }
        // Less than the truth is acceptable only when said, and only as whole records missing: every answer is
        // the truth or the truth without what was set aside.
        let explained = answers.allSatisfy { $0.1 == truthOracle.run($0.0) || $0.1 == readOracle.run($0.0) }
        if reported && isSubset(answer, of: reference) && explained {
            return (.detected, "lost \(truth.count - got.count) records; " + (errors.first ?? "reported at open"), truth.count - got.count)
        }
        return (.silentlyWrong, "records equal: \(answer == reference), subset: \(isSubset(answer, of: reference)), answers explained: \(explained), reported: \(reported)", 0)
    }

    /// Whether the store says it is damaged: a part quarantined or missing, a WAL loss, at open or since.
    static func damageReported(_ store: Store) -> Bool {
        let condition = store.condition()
        return !store.missingParts.isEmpty || condition.degraded || condition.failed
            || store.openReport.contains { $0.hasPrefix("lost") || $0.hasPrefix("quarantined") || $0.hasPrefix("WAL") }
    }

    @Test("a flipped byte in the WAL, a part (header, block header, block payload, footer, trailer) or the MANIFEST is never silently wrong")
    func matrix() throws {
        // `make test` samples 12 offsets per kind; TALLY_CORRUPTION_FULL=1 samples 64 (the docs' table).
        let full = ProcessInfo.processInfo.environment["TALLY_CORRUPTION_FULL"] != nil
        let root = try TemporaryDirectory(prefix: "tally-corruption")
        defer { root.remove() }
        let template = root.appending("template")
        let truth = try Self.template(template)
        struct Case: Sendable { var kind: Int; var offset: Int; var change: Int }
        let kinds = try Self.kinds(template)
        var cases: [Case] = []
        for (k, kind) in kinds.enumerated() {
            for offset in Self.offsets(kind.ranges, count: kind.name.contains("every byte") ? .max : full ? 64 : 12) {
                for c in Self.changes.indices { cases.append(Case(kind: k, offset: offset, change: c)) }
            }
        }
        let clean = try kinds.map { try FileIO.readAll(template + "/" + $0.file) }
        let allCases = cases
        // Cases run on four threads: most of a case is waiting for fsync.
        let results = Mutex([(outcome: Outcome, why: String, lost: Int)?](repeating: nil, count: cases.count))
        let next = Mutex(0)
        let workers = (0..<4).map { _ in
            Thread {
                while true {
                    let i = next.withLock { n in defer { n += 1 }; return n }
                    guard i < allCases.count else { return }
                    let c = allCases[i], kind = kinds[c.kind]
                    let dir = root.appending("case-\(i)")
                    var result: (outcome: Outcome, why: String, lost: Int) = (.silentlyWrong, "the case could not be set up", 0)
                    do {
                        try Self.copyStore(template, dir)
                        var bytes = clean[c.kind]
                        bytes[c.offset] = Self.changes[c.change].apply(bytes[c.offset])
                        try FileIO.writeAtomically(bytes, to: dir + "/" + kind.file, directory: dir)
                        result = Self.classify(dir, truth: truth)
                    } catch {
                        result.why += ": \(error)"
                    }
                    try? FileManager.default.removeItem(atPath: dir)
                    results.withLock { $0[i] = result }
                }
            }
        }
        for w in workers { w.start() }
        while results.withLock({ $0.contains { $0 == nil } }) { usleep(20_000) }
        var table: [(kind: String, cases: Int, counts: [Outcome: Int], lost: Int)] = kinds.map { ($0.name, 0, [:], 0) }
        var silent: [String] = []
        let all = results.withLock { $0 }
        for (c, r) in zip(cases, all) {
            let r = r!
            table[c.kind].cases += 1
            table[c.kind].counts[r.outcome, default: 0] += 1
            table[c.kind].lost = max(table[c.kind].lost, r.lost)
            if r.outcome == .silentlyWrong {
                silent.append("\(kinds[c.kind].name) offset \(c.offset) \(Self.changes[c.change].name): \(r.why)")
            }
        }
        var text = "| file kind | flips | harmless | repaired | detected | silently wrong | most records lost (of \(truth.count)) |\n"
        text += "|---|---|---|---|---|---|---|\n"
        for row in table {
            text += "| \(row.kind) | \(row.cases) | " + Outcome.allCases.map { "\(row.counts[$0] ?? 0)" }.joined(separator: " | ") + " | \(row.lost) |\n"
        }
        // The table of docs/RELIABILITY.md comes from here.
        if let out = ProcessInfo.processInfo.environment["TALLY_CORRUPTION_TABLE"] {
            try? text.write(toFile: out, atomically: true, encoding: .utf8)
        }
        #expect(silent.isEmpty, Comment(rawValue: "silently wrong:\n" + silent.prefix(20).joined(separator: "\n") + "\n\n" + text))
    }
}
