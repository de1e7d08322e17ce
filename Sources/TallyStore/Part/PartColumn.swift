import CTallyPrefetch
import Synchronization
import TallyText
/// The columns of a part, in on-disk order.
package enum PartColumn: Int, CaseIterable, Sendable {
    case createdAt = 0
    case inputTokens
    case outputTokens
    case cost
    case project
    case environment
    case user
    case feature
    case workflow
    case skill
    case model
    case requestID

    /// The column of a dictionary-encoded dimension.
    package static func of(_ d: Dimension) -> PartColumn { PartColumn(rawValue: 4 + d.rawValue)! }

    /// The dimension a code column holds, if any.
    package var dimension: Dimension? { (4...10).contains(rawValue) ? Dimension(rawValue: rawValue - 4) : nil }

    package var name: String {
        switch self {
        case .createdAt: "created_at"
        case .inputTokens: "input_tokens"
        case .outputTokens: "output_tokens"
        case .cost: "cost_cents"
        case .requestID: "request_id"
        default: dimension!.fieldName
        }
    }
}

/// Where a granule's block of one column is, and the column's min/max in that granule (the zone map).
package struct BlockRef: Sendable, Hashable {
    package var offset: Int
    package var length: Int
    package var min: Int64
    package var max: Int64
}

/// A run of up to `granuleRows` consecutive rows of a part.
package struct Granule: Sendable {
    package var rowStart: Int
    package var rows: Int
    /// One per `PartColumn`.
    package var blocks: [BlockRef]
}

/// Pre-aggregates of one dimension in one hour: for each code present, count and sums.
package struct Rollup: Sendable, Equatable {
    package var codes: [UInt32] = []
    package var counts: [Int64] = []
    package var inputTokens: [Int64] = []
    package var outputTokens: [Int64] = []
    package var cost: [Int64] = []

    package init() {}

    /// An empty rollup with room for `n` codes (a footer decode appends exactly that many: no regrowth).
    package init(reserving n: Int) {
        codes.reserveCapacity(n); counts.reserveCapacity(n)
        inputTokens.reserveCapacity(n); outputTokens.reserveCapacity(n); cost.reserveCapacity(n)
    }
}

/// One UTC hour of a part: its rows and its totals (its per-dimension rollups are in `PartMeta.hourRollups`).
package struct HourEntry: Sendable {
    package var start: Int64
    package var rowStart: Int
    package var rows: Int
    package var inputTokens: Int64
    package var outputTokens: Int64
    package var cost: Int64
}

/// One UTC day of a part: its start, its hours (`firstHour ..< firstHour + hours` of the footer's hours), its sums.
package struct DayEntry: Sendable {
    package var start: Int64
    package var firstHour: Int32
    package var hours: Int32
    package var count: Int64
    package var inputTokens: Int64
    package var outputTokens: Int64
    package var cost: Int64
}

/// A part's hours (ascending) summed by UTC day as they are read: the day in progress is held apart, so an hour costs
/// neither a division nor an array write unless it starts a day.
package struct DaySums {
    private var days: [DayEntry] = []
    private var day = DayEntry(start: 0, firstHour: 0, hours: 0, count: 0, inputTokens: 0, outputTokens: 0, cost: 0)
    private var haveDay = false
    private var dayEnd = Int64.min

    package init() {}

    /// Adds hour `index` of the part's hours.
    @inline(__always)
    package mutating func add(_ h: HourEntry, index: Int) {
        if !haveDay || h.start < day.start || h.start >= dayEnd {
            let d = TimeUnit.dayStart(h.start)
            if !haveDay || d != day.start {
                if haveDay { days.append(day) }
                day = DayEntry(start: d, firstHour: Int32(index), hours: 0, count: 0, inputTokens: 0, outputTokens: 0, cost: 0)
                haveDay = true
                dayEnd = d > Int64.max - TimeUnit.dayMillis ? .max : d + TimeUnit.dayMillis
            }
        }
        day.hours += 1
        day.count &+= Int64(h.rows); day.inputTokens &+= h.inputTokens
        day.outputTokens &+= h.outputTokens; day.cost &+= h.cost
    }

    /// The days summed.
    package consuming func finish() -> [DayEntry] {
        if haveDay { days.append(day) }
        return days
    }
}

/// A part's hours summed by UTC day (series by day add a part's days, not its hours), in one object: an all-tenant
/// daily series touches this and nothing else of most parts. Immutable once made.
package final class DayTotals: ManagedBuffer<Int, DayEntry>, @unchecked Sendable {
    /// The days of `hours` (ascending, as a footer's are).
    package static func make(_ hours: UnsafeBufferPointer<HourEntry>) -> DayTotals {
        var sums = DaySums()
        for (i, h) in hours.enumerated() { sums.add(h, index: i) }
        return make(days: sums.finish())
    }

    /// `days` (made by `DaySums`) in one object.
    package static func make(days: [DayEntry]) -> DayTotals {
        let made = unsafeDowncast(DayTotals.create(minimumCapacity: days.count) { _ in days.count }, to: DayTotals.self)
        made.withUnsafeMutablePointerToElements { p in
            days.withUnsafeBufferPointer { if let d = $0.baseAddress { p.initialize(from: d, count: $0.count) } }
        }
        return made
    }

    deinit {
        _ = withUnsafeMutablePointers { n, p in p.deinitialize(count: n.pointee) }
    }

    /// The days, in place.
    package func withDays<R>(_ body: (UnsafeBufferPointer<DayEntry>) throws -> R) rethrows -> R {
        try withUnsafeMutablePointers { n, p in try body(UnsafeBufferPointer(start: p, count: n.pointee)) }
    }
}

/// The hours' per-dimension rollups of a part, flat: five arrays and one of bounds, however many hours and
/// dimensions (a 10M-row store has some 150,000 tenant-hours; one small array per hour and dimension made
/// opening it allocate millions of times). Hour `h`'s rollup of dimension `d` is `entries[bounds[h * D + d] ..<
/// bounds[h * D + d + 1]]` with `D = Dimension.allCases.count`; an empty range means the hour keeps none for that
/// dimension (too many values in that hour to be worth it): an hour has rows, so a kept rollup has a code.
package struct HourRollups: Sendable, Equatable {
    package static let dimensions = Dimension.allCases.count
    /// Every hour's rollups one after the other; within an hour, codes in the order the writer met them.
    package var entries = Rollup()
    package var bounds: [Int32] = [0]

    package init() {}

    /// Room for the bounds of `hours` hours (the entries grow as they are appended).
    package init(reservingHours hours: Int) {
        bounds.reserveCapacity(hours * Self.dimensions + 1)
    }

    /// The entries of hour `h`'s rollup of dimension `d`, or nil when the hour keeps none.
    @inline(__always)
    package func range(hour h: Int, dimension d: Int) -> Range<Int>? {
        let i = h * Self.dimensions + d
        guard d >= 0, d < Self.dimensions, i + 1 < bounds.count else { return nil }
        let a = Int(bounds[i]), b = Int(bounds[i + 1])
        return a < b ? a..<b : nil
    }

    /// A copy of hour `h`'s rollup of dimension `d` (tests and tools; queries read `entries` in place).
    package func rollup(hour h: Int, dimension d: Int) -> Rollup? {
        guard let r = range(hour: h, dimension: d) else { return nil }
        var out = Rollup(reserving: r.count)
        out.codes = Array(entries.codes[r]); out.counts = Array(entries.counts[r])
        out.inputTokens = Array(entries.inputTokens[r]); out.outputTokens = Array(entries.outputTokens[r])
        out.cost = Array(entries.cost[r])
        return out
    }

    /// Closes the next (hour, dimension) slot after its entries were appended to `entries`.
    @inline(__always)
    package mutating func closeSlot() { bounds.append(Int32(truncatingIfNeeded: entries.codes.count)) }

    /// Appends the next (hour, dimension) slot: `r`'s entries, or none.
    package mutating func append(_ r: Rollup?) {
        if let r {
            entries.codes += r.codes; entries.counts += r.counts
            entries.inputTokens += r.inputTokens; entries.outputTokens += r.outputTokens; entries.cost += r.cost
        }
        closeSlot()
    }

    /// Replaces the codes of hour `h`'s rollup of dimension `d` (same count; for tests of damaged footers).
    package mutating func setCodes(hour h: Int, dimension d: Int, _ codes: [UInt32]) {
        guard let r = range(hour: h, dimension: d), r.count == codes.count else { preconditionFailure("no such rollup") }
        entries.codes.replaceSubrange(r, with: codes)
    }
}

/// Everything the footer of a part says.
package struct PartMeta: Sendable {
    package var id: UInt64
    package var tenant: String
    package var level: Int
    package var rows: Int
    package var minTime: Int64
    package var maxTime: Int64
    /// Sorted distinct values per dimension; a code is an index.
    package var dictionaries: PartDictionaries
    package var granules: [Granule]
    /// The hour index: one entry per hour with rows, ascending, their row ranges tiling the part. A part read from disk
    /// makes it on first use from its footer's bytes (checked value by value when the footer was read): an all-tenant
    /// question over whole parts reads every footer and none of its hours (48 bytes an hour, 48 MB over 5,000 parts).
    package var hours: [HourEntry] {
        get {
            if let decodedHours { return decodedHours }
            guard case let .deferred(d) = rollupStorage else { preconditionFailure("a footer without its hours") }
            return d.hourEntries()
        }
        set {
            decodedHours = newValue
            hourCount = newValue.count
        }
    }
    /// How many hours the part has rows in (without making `hours`).
    package private(set) var hourCount: Int
    /// Whether the hour entries were made with the footer (`PartReader.load(.hours)`) rather than on first use.
    package var hoursMadeWithFooter: Bool { decodedHours != nil }
    private var decodedHours: [HourEntry]?
    /// The hours' per-dimension rollups (`hours.count` hours) and the part rollups: in memory, or still in the
    /// footer's bytes (`hourRollups`, `partRollup(_:)`).
    package var rollupStorage: RollupStorage
    /// The request-id filter (format v2; nil in v1 parts, whose old ids are found by decoding).
    package var filter: FilterRef? = nil
    /// What readers derive from this footer once and keep while the part is open (orders of rollup entries); shared
    /// by the copies of this value.
    package let derived = DerivedIndexes()

    package init(id: UInt64, tenant: String, level: Int, rows: Int, minTime: Int64, maxTime: Int64, dictionaries: [[String]],
                 granules: [Granule], hours: [HourEntry], hourRollups: HourRollups, partRollups: [Rollup], filter: FilterRef? = nil) {
        self.init(id: id, tenant: tenant, level: level, rows: rows, minTime: minTime, maxTime: maxTime,
                  dictionaries: PartDictionaries(dictionaries), granules: granules, hours: hours,
                  rollupStorage: .decoded(hourRollups, partRollups), filter: filter)
    }

    /// `hours` nil: `rollupStorage` is deferred and makes the `hourCount` hours from the footer's bytes on first use.
    package init(id: UInt64, tenant: String, level: Int, rows: Int, minTime: Int64, maxTime: Int64, dictionaries: PartDictionaries,
                 granules: [Granule], hours: [HourEntry]?, hourCount: Int? = nil, rollupStorage: RollupStorage, filter: FilterRef? = nil) {
        (self.id, self.tenant, self.level, self.rows, self.minTime, self.maxTime) = (id, tenant, level, rows, minTime, maxTime)
        (self.dictionaries, self.granules, self.decodedHours, self.rollupStorage) = (dictionaries, granules, hours, rollupStorage)
        if hours == nil, case .decoded = rollupStorage { preconditionFailure("decoded rollups without their hours") }
        self.hourCount = hours?.count ?? hourCount ?? 0
        self.filter = filter
    }

    /// The hours' per-dimension rollups. A part opened from disk decodes them from its footer on first use (an
    /// all-tenant question reads every footer, and most answers come from the part rollups or the rows); a section
    /// that does not decode is `StoreError.corrupt`, never an empty rollup.
    package var hourRollups: HourRollups {
        get throws {
            switch rollupStorage {
            case .decoded(let r, _): return r
            case .deferred(let d): return try d.hourRollups()
            }
        }
    }

    /// The hours' rollups of dimension `d` (`Dimension.rawValue`); other dimensions' may be left out (empty ranges).
    package func hourRollups(dimension d: Int) throws -> HourRollups {
        switch rollupStorage {
        case .decoded(let r, _): return r
        case .deferred(let deferred): return try deferred.hourRollups(dimension: d)
        }
    }

    /// The whole part's rollup of dimension `d` (`Dimension.rawValue`): count and sums by code, codes ascending. It
    /// answers a question that covers the whole part for that dimension. Decoded on first use, as `hourRollups`.
    package func partRollup(_ d: Int) throws -> Rollup {
        switch rollupStorage {
        case .decoded(_, let r): return r[d]
        case .deferred(let deferred): return try deferred.partRollup(d)
        }
    }

    /// How many codes dimension `d`'s part rollup holds (without decoding it).
    package func partRollupCount(_ d: Int) -> Int {
        switch rollupStorage {
        case .decoded(_, let r): r[d].codes.count
        case .deferred(let deferred): deferred.partRollupCounts[d]
        }
    }

    /// How many hours keep a rollup of dimension `d`, and how many entries those rollups hold (without decoding them).
    package func hourRollupCount(_ d: Int) -> (hours: Int, entries: Int) {
        switch rollupStorage {
        case .decoded(let r, _):
            let ranges = (0..<hourCount).compactMap { r.range(hour: $0, dimension: d) }
            return (ranges.count, ranges.reduce(0) { $0 + $1.count })
        case .deferred(let deferred):
            return (deferred.hourRollupCounts[d], deferred.hourRollupEntries[d])
        }
    }

    /// Every dimension's part rollup, `Dimension` order.
    package func partRollups() throws -> [Rollup] {
        try (0..<Dimension.allCases.count).map { try partRollup($0) }
    }

    /// The same part with the hour rollups `r` (the part rollups decoded too; for tests of damaged footers).
    package func replacingHourRollups(_ r: HourRollups) throws -> PartMeta {
        var m = self
        m.rollupStorage = .decoded(r, try partRollups())
        return m
    }
}

/// Values derived from one part's footer by the layers above the store (a rollup's entries ranked by a measure),
/// made on first use and kept for as long as the part is open. A value is made from the
/// footer alone, so it never goes stale: a part never changes.
///
/// Values live in numbered slots (`slotCount`; the caller numbers its kinds of value), each set at most once and read
/// with one atomic load: concurrent questions over the same part read them on every answer, and a lock here was a
/// tenth of a busy server's CPU (threads parked on it).
///
/// `@unchecked Sendable`: each slot is written once, by compare-and-exchange, and holds a retained `Box`.
package final class DerivedIndexes: @unchecked Sendable {
    package static let slotCount = 64

    private final class Box<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }

    /// Per slot: a retained `Box`'s address, or 0. Allocated on the first value: most open parts never get one.
    private final class Slots: @unchecked Sendable {
        let words: UnsafeMutablePointer<UInt64>

        init() {
            words = .allocate(capacity: DerivedIndexes.slotCount)
            words.initialize(repeating: 0, count: DerivedIndexes.slotCount)
        }

        deinit {
            for i in 0..<DerivedIndexes.slotCount where words[i] != 0 {
                Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(words[i]))!).release()
            }
            words.deallocate()
        }
    }

    private let storage = OnceReference<Slots>()

    package init() {}

    /// The value in `slot`, made by `make` on first use (a failed `make` keeps nothing). Two threads asking at once
    /// may both make it; the first one stored is returned to both. A slot holds one type of value: asking it for
    /// another type is a programming error.
    package func value<T: Sendable>(_ slot: Int, make: () throws -> T) rethrows -> T {
        precondition(slot >= 0 && slot < Self.slotCount, "derived index slot \(slot) out of range")
        let words = (storage.load() ?? storage.storeIfNil(Slots())).words
        if let v = Self.unbox(tally_atomic_load_u64(words + slot), as: T.self) { return v }
        let box = Unmanaged.passRetained(Box(try make()) as AnyObject)
        let address = UInt64(UInt(bitPattern: box.toOpaque()))
        let prior = tally_atomic_cas_u64(words + slot, 0, address)
        guard prior != 0 else { return Self.unbox(address, as: T.self)! }
        box.release()
        return Self.unbox(prior, as: T.self)!
    }

    private static func unbox<T>(_ address: UInt64, as: T.Type) -> T? {
        guard address != 0 else { return nil }
        let object = Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(address))!).takeUnretainedValue()
        guard let box = object as? Box<T> else { preconditionFailure("derived index slot holds another type") }
        return box.value
    }
}

/// Where a part's hour and part rollups are.
package enum RollupStorage: Sendable {
    case decoded(HourRollups, [Rollup])
    /// Still encoded in the part's footer (checked by its CRC and framing), decoded on first use.
    case deferred(DeferredRollups)
}

/// The hour and part-rollup sections of a part's checked footer (adjacent on disk), kept as bytes: the hours'
/// rollups are decoded as a whole on first use, a dimension's part rollup on its first use. Their framing (counts,
/// varints within the bytes) was checked when the footer was read; codes and sums are checked when decoded, and a
/// value that fails is `StoreError.corrupt`.
package final class DeferredRollups: Sendable {
    private let bytes: [UInt8]
    /// Where the sections start in `bytes` (the whole footer body is kept rather than copied out of it).
    private let base: Int
    private let hours: Int
    private let rows: Int
    private let dictionarySizes: [Int]
    /// Hour entries in the packed form of version 4 (`PartFormat.packedHoursVersion`).
    private let packedHours: Bool
    private let hourSectionEnd: Int
    /// Per dimension: how many hours keep a rollup of it, and how many entries those rollups hold in all.
    package let hourRollupCounts: [Int]
    package let hourRollupEntries: [Int]
    /// Per dimension: where its part rollup's first entry starts in `bytes`, and how many codes it holds.
    private let partRollupStarts: [Int]
    package let partRollupCounts: [Int]
    private let path: String
    private let footerOffset: Int
    private let decodedHours = OnceReference<Box<HourRollups>>()
    private let decodedEntries = OnceReference<Box<[HourEntry]>>()
    /// One dimension's hour rollups each (the others' left empty), for questions that need one.
    private let decodedHourDimensions = Mutex<[HourRollups?]>(Array(repeating: nil, count: Dimension.allCases.count))
    private let decodedPartRollups = Mutex<[Rollup?]>(Array(repeating: nil, count: Dimension.allCases.count))

    private final class Box<T: Sendable>: Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }

    /// `bytes` holds the footer's hour section (`hours` entries over `rows` rows) up to `hourSectionEnd`, then its part
    /// rollups (dimension `d`'s `partRollupCounts[d]` entries from `partRollupStarts[d]`), of the part at `path` whose
    /// stored footer starts at `footerOffset` in the file.
    package init(bytes: [UInt8], base: Int = 0, hours: Int, rows: Int, dictionarySizes: [Int], packedHours: Bool, hourSectionEnd: Int,
                 hourRollupCounts: [Int], hourRollupEntries: [Int], partRollupStarts: [Int], partRollupCounts: [Int], path: String,
                 footerOffset: Int, days: [DayEntry]? = nil) {
        (self.bytes, self.base, self.hours, self.rows, self.dictionarySizes, self.hourSectionEnd) = (bytes, base, hours, rows, dictionarySizes, hourSectionEnd)
        self.packedHours = packedHours
        self.days = days
        (self.hourRollupCounts, self.hourRollupEntries) = (hourRollupCounts, hourRollupEntries)
        (self.partRollupStarts, self.partRollupCounts, self.path, self.footerOffset) = (partRollupStarts, partRollupCounts, path, footerOffset)
    }

    /// The hours summed by UTC day (`DaySums`), made when the footer was read: a daily series over every part
    /// needs these and not its hours. (`PartReader.dayTotals` copies them into one object on first use, made beside
    /// the other parts' by the question that asks: an all-tenant daily series reads one per part each time.)
    package let days: [DayEntry]?

    /// The hour entries, made on first use. Every value was checked when the footer was read (`readHours` with
    /// `keepEntries: false` makes the same checks), and these bytes are the same, so this read cannot fail.
    func hourEntries() -> [HourEntry] {
        if let b = decodedEntries.load() { return b.value }
        let entries: [HourEntry]
        do {
            entries = try decode("hour index") { r in
                var none = HourRollups()
                return try PartFooterCodec.readHours(&r, count: hours, rows: rows, dictionarySizes: dictionarySizes, packed: packedHours, rollups: &none, skip: true)
            }
        } catch {
            preconditionFailure("part \(path): the footer's hours passed their checks when it was read and fail them now: \(error)")
        }
        return decodedEntries.storeIfNil(Box(entries)).value
    }

    func hourRollups() throws -> HourRollups {
        if let b = decodedHours.load() { return b.value }
        let rollups = try decode("hour rollups") { r in
            var out = HourRollups(reservingHours: hours)
            _ = try PartFooterCodec.readHours(&r, count: hours, rows: rows, dictionarySizes: dictionarySizes, packed: packedHours, rollups: &out)
            guard r.offset == hourSectionEnd else { throw ByteReader.Overrun(offset: r.offset) }
            return out
        }
        return decodedHours.storeIfNil(Box(rollups)).value
    }

    /// The hour rollups of dimension `d` alone (the whole set when it is decoded already): a question about one
    /// dimension steps over the others' entries instead of decoding them.
    func hourRollups(dimension d: Int) throws -> HourRollups {
        if let b = decodedHours.load() { return b.value }
        // No hour keeps one (a small part's dimension with many values): nothing to step through.
        if hourRollupCounts[d] == 0 { return HourRollups() }
        if let r = decodedHourDimensions.withLock({ $0[d] }) { return r }
        let rollups = try decode("hour rollups") { r in
            var out = HourRollups(reservingHours: hours)
            _ = try PartFooterCodec.readHours(&r, count: hours, rows: rows, dictionarySizes: dictionarySizes, packed: packedHours, rollups: &out, only: d)
            guard r.offset == hourSectionEnd else { throw ByteReader.Overrun(offset: r.offset) }
            return out
        }
        return decodedHourDimensions.withLock { slots in
            if slots[d] == nil { slots[d] = rollups }
            return slots[d]!
        }
    }

    func partRollup(_ d: Int) throws -> Rollup {
        if let r = decodedPartRollups.withLock({ $0[d] }) { return r }
        let rollup = try decode("part rollup of \(Dimension.allCases[d].fieldName)") { r in
            r.offset = partRollupStarts[d]
            return try PartFooterCodec.readPartRollup(&r, count: partRollupCounts[d], dictionarySize: dictionarySizes[d], rows: rows)
        }
        return decodedPartRollups.withLock { slots in
            if slots[d] == nil { slots[d] = rollup }
            return slots[d]!
        }
    }

    private func decode<T>(_ what: String, _ body: (inout ByteReader) throws -> T) throws -> T {
        do {
            return try bytes.withUnsafeBytes { buffer in
                var r = ByteReader(UnsafeRawBufferPointer(rebasing: buffer[base...]))
                return try body(&r)
            }
        } catch let e as ByteReader.Overrun {
            throw StoreError.corrupt(path: path, offset: footerOffset, reason: "the footer's \(what) does not parse (byte \(e.offset) of its rollups)")
        }
    }
}

/// A part's dictionaries, one per dimension (`Dimension` order): sorted distinct values, a code is an index.
///
/// A part read from disk keeps them as the footer's bytes (checked by its CRC; every string's length was stepped over
/// within the section when the footer was read) and makes a dimension's strings on its first use: an all-tenant
/// question reads every footer, and most use one dimension's values or none (a 2,000-part store's footers hold
/// 648,072 strings, 8 MB of them one dimension's). `sizes` needs no strings.
package struct PartDictionaries: RandomAccessCollection, Sendable {
    private enum Storage: Sendable {
        case decoded([[String]])
        case encoded(EncodedDictionaries)
    }

    private let storage: Storage
    /// How many values each dimension's dictionary holds.
    package let sizes: [Int]

    package init(_ dictionaries: [[String]]) {
        storage = .decoded(dictionaries)
        sizes = dictionaries.map(\.count)
    }

    /// The dictionaries in `bytes`: dimension `d`'s `sizes[d]` strings (`string16`) from `starts[d]`.
    package init(bytes: [UInt8], starts: [Int], sizes: [Int]) {
        storage = .encoded(EncodedDictionaries(bytes: bytes, starts: starts, sizes: sizes))
        self.sizes = sizes
    }

    package var startIndex: Int { 0 }
    package var endIndex: Int { sizes.count }

    package subscript(d: Int) -> [String] {
        switch storage {
        case .decoded(let all): all[d]
        case .encoded(let e): e.values(d)
        }
    }

    /// Whether dimension `d`'s strings are made (always, for dictionaries given as strings).
    package func isMade(_ d: Int) -> Bool {
        switch storage {
        case .decoded: true
        case .encoded(let e): e.isMade(d)
        }
    }
}

/// The encoded dictionaries of a `PartDictionaries`, each made into strings on first use.
private final class EncodedDictionaries: Sendable {
    private let bytes: [UInt8]
    private let starts: [Int]
    private let sizes: [Int]
    private let made: Mutex<[[String]?]>

    init(bytes: [UInt8], starts: [Int], sizes: [Int]) {
        (self.bytes, self.starts, self.sizes) = (bytes, starts, sizes)
        made = Mutex(Array(repeating: nil, count: sizes.count))
    }

    func isMade(_ d: Int) -> Bool { made.withLock { $0[d] != nil } }

    func values(_ d: Int) -> [String] {
        if let v = made.withLock({ $0[d] }) { return v }
        // Each string is a little-endian u16 length and its bytes; the lengths were stepped over within the bytes when
        // the footer was read.
        let values = bytes.withUnsafeBytes { buffer -> [String] in
            var at = starts[d]
            return (0..<sizes[d]).map { _ in
                let length = Int(buffer[at]) | Int(buffer[at + 1]) << 8
                defer { at += 2 + length }
                return String(utf8: UnsafeRawBufferPointer(rebasing: buffer[(at + 2)..<(at + 2 + length)]))
            }
        }
        return made.withLock { slots in
            if slots[d] == nil { slots[d] = values }
            return slots[d]!
        }
    }
}
