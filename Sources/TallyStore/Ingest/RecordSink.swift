import TallyText

/// Validates tokenized records against the data contract and appends the good ones to a batch.
///
/// Shared by every format: the tokenizers hand over one `FieldValue` per contract field, lent from the
/// input (or from a scratch buffer for unescaped values). String fields are interned through the batch's
/// `StringInterner`, so a value seen before costs a hash probe and no allocation, and is validated once:
/// `codeFlags` remembers per dictionary code what the checks found.
struct RecordSink {
    var batch = RecordBatch()
    /// The first `limits.maxKeptErrors` errors by line. Beyond that an error is only counted, and its text
    /// is never built (`fail` takes it as an autoclosure): a 16 MiB body of `{}` lines has 22 million errors.
    private(set) var errors: [RecordError] = []
    /// Every error found, kept or not.
    private(set) var errorCount = 0
    /// Rejected records: units (records, rows, array elements) with at least one error.
    private(set) var rejectedRecords = 0
    /// The unit being parsed: the tokenizers advance it for each record (and oversized or structural
    /// problem), so several errors of one record count one rejected record, and records sharing a line
    /// (a JSON array on one line) count one each.
    var unit = 0
    private var lastFailedUnit = -1
    let limits: IngestLimits
    let pricing: PriceTable?

    /// Per dictionary code: `flagChecked`, `flagControl`, `flagTenant`.
    private var codeFlags: [UInt8] = []
    /// Per dictionary code of a model: its schedule in `pricing` (+1), 0 unknown yet, -1 unpriced.
    private var scheduleOfCode: [Int32] = []
    private var defaultCodes: (project: UInt32, environment: UInt32, feature: UInt32, empty: UInt32) =
        (.max, .max, .max, .max)

    private static let flagControl: UInt8 = 1
    private static let flagTenant: UInt8 = 2

    init(limits: IngestLimits, pricing: PriceTable?) {
        self.limits = limits
        self.pricing = pricing
    }

    /// What one chunk's sink hands to the next one of the same stream when strings are kept across
    /// chunks (`StreamingRecordParser(keepingStrings: true)`): the interned strings and what is known
    /// about each code, so a value seen in an earlier chunk is neither interned nor checked again.
    struct Carry {
        var strings = StringInterner()
        var lineage: UInt64
        fileprivate var codeFlags: [UInt8] = []
        fileprivate var scheduleOfCode: [Int32] = []
        fileprivate var defaultCodes: (project: UInt32, environment: UInt32, feature: UInt32, empty: UInt32) =
            (.max, .max, .max, .max)

        init(lineage: UInt64) { self.lineage = lineage }
    }

    /// A sink that continues `carry`: its batch starts with the strings (and codes) of the earlier chunks.
    init(limits: IngestLimits, pricing: PriceTable?, carrying carry: Carry) {
        self.init(limits: limits, pricing: pricing)
        batch.strings = carry.strings
        batch.stringsLineage = carry.lineage
        codeFlags = carry.codeFlags
        scheduleOfCode = carry.scheduleOfCode
        defaultCodes = carry.defaultCodes
    }

    /// The state to continue from in the next chunk.
    var carry: Carry {
        var c = Carry(lineage: batch.stringsLineage)
        c.strings = batch.strings
        c.codeFlags = codeFlags
        c.scheduleOfCode = scheduleOfCode
        c.defaultCodes = defaultCodes
        return c
    }

    /// The outcome so far, errors sorted by line.
    func outcome() -> ParseOutcome {
        var e = errors
        if !isSortedByLine(e) {
            e = e.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }.map(\.element)
        }
        return ParseOutcome(batch: batch, errors: e, errorCount: errorCount, rejectedRecords: rejectedRecords)
    }

    private func isSortedByLine(_ e: [RecordError]) -> Bool {
        var last = Int.min
        for x in e {
            if x.line < last { return false }
            last = x.line
        }
        return true
    }

    /// Records a problem of a whole record or of one field.
    mutating func fail(_ line: Int, _ field: RecordField?, _ reason: @autoclosure () -> String) {
        note(line) { RecordError(line: line, field: field?.name, reason: reason()) }
    }

    /// Records a problem with a field named by the input (an unknown or duplicated key or column).
    mutating func fail(_ line: Int, fieldName: @autoclosure () -> String?, _ reason: @autoclosure () -> String) {
        note(line) { RecordError(line: line, field: fieldName(), reason: reason()) }
    }

    /// Counts an error and keeps it while fewer than `maxKeptErrors` are kept (or when it comes before the
    /// last kept one by line); `make` runs only for a kept error.
    @inline(__always)
    private mutating func note(_ line: Int, _ make: () -> RecordError) {
        errorCount += 1
        if unit != lastFailedUnit {
            rejectedRecords += 1
            lastFailedUnit = unit
        }
        if errors.count < limits.maxKeptErrors {
            errors.append(make())
        } else if let last = errors.last, line < last.line {
            keepEarlier(make())
        }
    }

    /// Keeps `e` in place of the last kept error by line (errors almost always arrive in line order).
    @inline(never)
    private mutating func keepEarlier(_ e: RecordError) {
        errors.append(e)
        errors = errors.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }.map(\.element)
        errors.removeLast()
    }

    // MARK: - Building a record

    /// Validates the 13 values at `f` (indexed by `RecordField.rawValue`) and appends the record, or
    /// records one error per bad field.
    ///
    /// The user and workflow ids are the values likely to miss the cache (tens of thousands of them), so
    /// their interner slots are loaded early: a caller that has them before the rest of the record (the
    /// CSV reader, as it reads the row) passes what `prefetch(_:)` returned for them; otherwise they are
    /// hashed and prefetched here, so at least the misses overlap the work on the fields before them.
    mutating func append(
        _ f: UnsafeMutablePointer<FieldValue>, line: Int,
        userHash: UInt64?? = nil, workflowHash: UInt64?? = nil
    ) {
        var ok = true
        let userHash = userHash ?? prefetch(f[RecordField.userID.rawValue])
        let workflowHash = workflowHash ?? prefetch(f[RecordField.workflowID.rawValue])
        let tenant = internTenant(f[RecordField.tenantID.rawValue], line, &ok)
        let project = internString(f[RecordField.projectID.rawValue], .projectID, line, &ok)
        let environment = internString(f[RecordField.environment.rawValue], .environment, line, &ok)
        let user = internString(f[RecordField.userID.rawValue], .userID, line, &ok, hash: userHash)
        let feature = internString(f[RecordField.featureTag.rawValue], .featureTag, line, &ok)
        let request = f[RecordField.requestID.rawValue]
        checkRequestID(request, line, &ok)
        let workflow = internString(f[RecordField.workflowID.rawValue], .workflowID, line, &ok, hash: workflowHash)
        let skill = internString(f[RecordField.skillID.rawValue], .skillID, line, &ok)
        var modelOK = true
        let model = internString(f[RecordField.model.rawValue], .model, line, &modelOK)
        let input = count(f[RecordField.inputTokens.rawValue], .inputTokens, line, &ok)
        let output = count(f[RecordField.outputTokens.rawValue], .outputTokens, line, &ok)
        let costValue = f[RecordField.costCents.rawValue]
        var cost: Int64 = 0
        var costOK = true
        if costValue.kind != .absent && costValue.count > 0 {
            cost = cents(costValue, line, &costOK)
        }
        var createdOK = true
        let created = timestamp(f[RecordField.createdAt.rawValue], line, &createdOK)
        if costValue.kind == .absent || costValue.count == 0, modelOK, createdOK, ok {
            cost = priced(model: model, input: input, output: output, at: created, line, &costOK)
        }
        guard ok, modelOK, costOK, createdOK else { return }
        batch.append(
            tenant: tenant, dims: (project, environment, user, feature, workflow, skill, model),
            requestID: request.bytes, inputTokens: input, outputTokens: output,
            costNanos: cost, createdAt: created, line: line
        )
    }

    /// True for a field a writer left out: absent, JSON `null`, or empty (an empty string means the default).
    @inline(__always)
    private func isMissing(_ v: FieldValue) -> Bool { v.kind == .absent || v.count == 0 }

    @inline(__always)
    private mutating func internTenant(_ v: FieldValue, _ line: Int, _ ok: inout Bool) -> UInt32 {
        if isMissing(v) { fail(line, .tenantID, "is required"); ok = false; return 0 }
        guard v.kind == .text || v.kind == .string else { fail(line, .tenantID, "must be a string"); ok = false; return 0 }
        guard v.count <= 64, let code = intern(v.bytes, .tenant), codeFlags[Int(code)] & Self.flagTenant != 0 else {
            fail(line, .tenantID, "must be 1-64 characters of [A-Za-z0-9._:-]")
            ok = false
            return 0
        }
        return code
    }

    /// The `stringHash` of a string value that will be interned, after starting to load its interner slot;
    /// nil for a value that will not be looked up (absent, not a string or too long).
    @inline(__always)
    func prefetch(_ v: FieldValue) -> UInt64? {
        guard v.count > 0, v.count <= limits.maxFieldBytes, v.kind == .text || v.kind == .string else { return nil }
        let h = stringHash(v.bytes)
        batch.strings.prefetch(hash: h)
        return h
    }

    /// Interns a string dimension, applying its default and the id rules. `hash`, when not nil, is the
    /// `stringHash` of the value (see `prefetch`).
    @inline(__always)
    private mutating func internString(
        _ v: FieldValue, _ field: RecordField, _ line: Int, _ ok: inout Bool, hash: UInt64? = nil
    ) -> UInt32 {
        if isMissing(v) {
            if field == .model { fail(line, field, "is required"); ok = false; return 0 }
            return defaultCode(field)
        }
        guard v.kind == .text || v.kind == .string else { fail(line, field, "must be a string"); ok = false; return 0 }
        guard v.count <= limits.maxFieldBytes else {
            let most = limits.maxFieldBytes
            fail(line, field, "is longer than \(most) bytes")
            ok = false
            return 0
        }
        guard let code = intern(v.bytes, field.isID ? .id : .text, hash: hash) else {
            let b = v.bytes
            fail(line, field, ByteChecks.isValidUTF8(b) ? "contains a control character" : "is not valid UTF-8")
            ok = false
            return 0
        }
        if field.isID && codeFlags[Int(code)] & Self.flagControl != 0 {
            fail(line, field, "contains a control character")
            ok = false
            return 0
        }
        return code
    }

    /// What a string must satisfy before it is interned, so rejected values stay out of the dictionary.
    enum Rule {
        case text, id, tenant
    }

    /// Interns a value that passes `rule`; a value interned before (under any rule) is found without checks,
    /// so callers check `codeFlags` for the rule of their field.
    @inline(__always)
    private mutating func intern(_ bytes: UnsafeRawBufferPointer, _ rule: Rule, hash: UInt64? = nil) -> UInt32? {
        let code = batch.strings.intern(bytes, hash: hash ?? stringHash(bytes)) { b in
            let ok = switch rule {
            case .text: ByteChecks.isValidUTF8(b)
            case .id: ByteChecks.isPrintableASCII(b) || (ByteChecks.isValidUTF8(b) && !ByteChecks.hasControl(b))
            case .tenant: ByteChecks.isValidTenant(b)
            }
            return ok ? String(utf8: b) : nil
        }
        if let code, Int(code) >= codeFlags.count { noteNewCode(bytes) }
        return code
    }

    /// Computes the flags of a string interned for the first time (codes are dense, so it is the next one).
    @inline(never)
    private mutating func noteNewCode(_ bytes: UnsafeRawBufferPointer) {
        var flags: UInt8 = 0
        if !ByteChecks.isPrintableASCII(bytes) && ByteChecks.hasControl(bytes) { flags |= Self.flagControl }
        if ByteChecks.isValidTenant(bytes) { flags |= Self.flagTenant }
        codeFlags.append(flags)
    }

    private mutating func defaultCode(_ field: RecordField) -> UInt32 {
        switch field {
        case .projectID:
            if defaultCodes.project == .max { defaultCodes.project = internStatic("default") }
            return defaultCodes.project
        case .environment:
            if defaultCodes.environment == .max { defaultCodes.environment = internStatic("prod") }
            return defaultCodes.environment
        case .featureTag:
            if defaultCodes.feature == .max { defaultCodes.feature = internStatic("untagged") }
            return defaultCodes.feature
        default:
            if defaultCodes.empty == .max { defaultCodes.empty = internStatic("") }
            return defaultCodes.empty
        }
    }

    private mutating func internStatic(_ s: StaticString) -> UInt32 {
        intern(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), .text)!
    }

    @inline(__always)
    private mutating func checkRequestID(_ v: FieldValue, _ line: Int, _ ok: inout Bool) {
        if isMissing(v) { fail(line, .requestID, "is required"); ok = false; return }
        guard v.kind == .text || v.kind == .string else { fail(line, .requestID, "must be a string"); ok = false; return }
        guard v.count <= limits.maxRequestIDBytes else {
            let most = limits.maxRequestIDBytes
            fail(line, .requestID, "is longer than \(most) bytes")
            ok = false
            return
        }
        let b = v.bytes
        if ByteChecks.isPrintableASCII(b) { return }
        if !ByteChecks.isValidUTF8(b) {
            fail(line, .requestID, "is not valid UTF-8")
            ok = false
        } else if ByteChecks.hasControl(b) {
            fail(line, .requestID, "contains a control character")
            ok = false
        }
    }

    /// Parses a token count: digits only (a JSON integer or a string of digits), 0...maxTokens.
    @inline(__always)
    private mutating func count(_ v: FieldValue, _ field: RecordField, _ line: Int, _ ok: inout Bool) -> Int64 {
        if isMissing(v) { return 0 }
        var value: Int64 = 0
        var tooLarge = false
        var digitsOnly = v.kind != .bool
        let p = v.bytes
        let limit = limits.maxTokens
        for c in p {
            let d = c &- 0x30
            if d > 9 { digitsOnly = false; break }
            if !tooLarge {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(d))
                if o1 || o2 || a > limit { tooLarge = true } else { value = a }
            }
        }
        if !digitsOnly {
            fail(line, field, "must be an integer >= 0")
            ok = false
            return 0
        }
        if tooLarge {
            fail(line, field, "must be at most \(limit)")
            ok = false
            return 0
        }
        return value
    }

    /// Parses `cost_cents` exactly from its text.
    @inline(__always)
    private mutating func cents(_ v: FieldValue, _ line: Int, _ ok: inout Bool) -> Int64 {
        guard v.kind != .bool else { fail(line, .costCents, "must be a decimal number of cents"); ok = false; return 0 }
        switch Money.parseCents(v.bytes) {
        case let .success(nanos):
            return nanos
        case let .failure(f):
            let reason = switch f {
            case .malformed: "must be a decimal number of cents, e.g. 12.5 (no exponent)"
            case .negative: "must be >= 0"
            case .tooPrecise: "has more than 7 decimal places"
            case .tooLarge: "is larger than \(Money.maxNanos / Money.nanosPerCent) cents"
            }
            fail(line, .costCents, reason)
            ok = false
            return 0
        }
    }

    @inline(__always)
    private mutating func timestamp(_ v: FieldValue, _ line: Int, _ ok: inout Bool) -> Int64 {
        if isMissing(v) { fail(line, .createdAt, "is required"); ok = false; return 0 }
        guard v.kind == .text || v.kind == .string else {
            fail(line, .createdAt, "must be an RFC 3339 timestamp string")
            ok = false
            return 0
        }
        switch Timestamp.parse(v.bytes, allowingBareDate: false) {
        case let .success(ms):
            return ms
        case let .failure(f):
            let reason = switch f {
            case .malformed where v.count == 10:
                "must be a full RFC 3339 timestamp with a time and an offset, such as 2025-01-31T12:00:00Z (not a bare date)"
            case .malformed: "must be an RFC 3339 timestamp such as 2025-01-31T12:00:00.000Z"
            case .outOfRange: "is out of range (a real date and time in the years 1970-2200)"
            case .subMillisecond: "has sub-millisecond precision (at most 3 non-zero fraction digits)"
            }
            fail(line, .createdAt, reason)
            ok = false
            return 0
        }
    }

    /// Prices a record without `cost_cents` from the table, caching the schedule per model code.
    @inline(__always)
    private mutating func priced(
        model: UInt32, input: Int64, output: Int64, at millis: Int64, _ line: Int, _ ok: inout Bool
    ) -> Int64 {
        let code = Int(model)
        if code >= scheduleOfCode.count || scheduleOfCode[code] == 0 { resolveSchedule(code) }
        let s = scheduleOfCode[code]
        if s > 0, let entry = pricing?.price(schedule: Int(s - 1), at: millis) {
            let nanos = entry.costNanos(inputTokens: input, outputTokens: output)
            if nanos <= Money.maxNanos { return nanos }
            fail(line, .costCents, "is absent and the priced cost is larger than \(Money.maxNanos / Money.nanosPerCent) cents")
            ok = false
            return 0
        }
        let name = batch.strings.values[code]
        fail(line, .costCents, "absent and no price is known for model '\(name)' at \(Timestamp.format(millis))")
        ok = false
        return 0
    }

    @inline(never)
    private mutating func resolveSchedule(_ code: Int) {
        if code >= scheduleOfCode.count {
            scheduleOfCode.append(contentsOf: repeatElement(0, count: code + 1 - scheduleOfCode.count))
        }
        let s = pricing?.scheduleIndex(of: batch.strings.values[code])
        scheduleOfCode[code] = s.map { Int32($0 + 1) } ?? -1
    }
}

extension RecordField {
    /// Identifier fields reject control characters; free-text fields (environment, feature tag, model)
    /// only need to be valid UTF-8.
    var isID: Bool {
        switch self {
        case .tenantID, .projectID, .userID, .requestID, .workflowID, .skillID: true
        default: false
        }
    }
}
