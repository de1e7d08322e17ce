import Foundation
import TallyStore
import TallyText

/// The spans of one export request as cost records in the data contract, ready for the records path.
///
/// The records are NDJSON, one line per GenAI span, and go through the same parser as `POST records`
/// (`Analytics.ingest`): the same checks, limits and defaults, and the same pricing from the price table for a
/// record without `cost_cents`. Line `n` is the record of `spanIDs[n - 1]`.
package struct MappedSpans: Sendable {
    /// The records, one NDJSON line per GenAI span that mapped.
    package var ndjson: [UInt8] = []
    /// The span id (hex) of each line.
    package var spanIDs: [String] = []
    /// Spans in the request.
    package var spans = 0
    /// Spans that are not GenAI model calls (no GenAI attribute, or an operation in `skippedOperations`): ignored.
    package var ignored = 0
    /// GenAI spans that could not become a record before parsing (no model, no end time, no tenant, ...).
    package var rejected: [SpanRejection] = []
}

/// A GenAI span refused, and why.
package struct SpanRejection: Error, Sendable, Equatable {
    /// The span id in hex (empty when the span has none).
    package var spanID: String
    package var reason: String
}

/// Maps the spans of an OTLP export request to cost records (see `SpanMapping` for which attribute fills which field).
///
/// - A span is a GenAI span when one of its own attributes is a `SpanMapping.markers` key (`gen_ai.operation.name`,
///   `gen_ai.provider.name`, `gen_ai.system`), a model key or a token key; other spans are ignored and counted. So
///   are GenAI spans whose `gen_ai.operation.name` is skipped (agents and tools, which wrap the model calls).
/// - `request_id` is the span id in lower-case hex (16 digits), so a span sent again is stored once (records are
///   deduplicated on tenant and request id); `created_at` is the span's end time (its start time when it has none).
/// - The model is the first model key present whose model the price table knows (so a dated response model such
///   as `gpt-4o-2024-08-06` falls back to the request model `gpt-4o` when only that is priced), else the first
///   present. Tokens: the first token key present, an integer (or a whole number, or digits in a string).
/// - Cost: `cost_cents` keys (exact cents) first, then `cost_usd` keys (dollars, converted to cents); without
///   either, the records path prices the record from the price table.
/// - The tenant: the first tenant key present, else the API key's tenant. A tenant key's spans naming another
///   tenant are rejected by the records path, as its records would be; an admin key's spans must name theirs.
package struct SpanRecordMapper: Sendable {
    package let mapping: SpanMapping
    package let pricing: PriceTable?

    package init(mapping: SpanMapping, pricing: PriceTable?) {
        self.mapping = mapping
        self.pricing = pricing
    }

    /// The records of `request`'s GenAI spans for a key of tenant `keyTenant` (nil: an admin key).
    package func map(_ request: ExportTraceServiceRequest, keyTenant: String?) -> MappedSpans {
        var out = MappedSpans()
        let genAIKeys = Set(mapping.markers + mapping.keys(for: .model) + mapping.keys(for: .inputTokens)
                            + mapping.keys(for: .outputTokens))
        for resourceSpans in request.resourceSpans {
            let resource = Attributes(resourceSpans.resource.attributes)
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    out.spans += 1
                    guard span.attributes.contains(where: { genAIKeys.contains($0.key) }) else {
                        out.ignored += 1
                        continue
                    }
                    let lookup = Lookup(span: Attributes(span.attributes), resource: resource)
                    if case let .stringValue(op)? = lookup.span.value("gen_ai.operation.name"),
                       mapping.skippedOperations.contains(op) {
                        out.ignored += 1
                        continue
                    }
                    let spanID = Hex.encode(span.spanID)
                    switch record(span, spanID: spanID, lookup, keyTenant: keyTenant) {
                    case let .success(line):
                        out.ndjson.append(contentsOf: line)
                        out.ndjson.append(UInt8(ascii: "\n"))
                        out.spanIDs.append(spanID)
                    case let .failure(rejection):
                        out.rejected.append(rejection)
                    }
                }
            }
        }
        return out
    }

    /// The NDJSON line of one GenAI span.
    private func record(_ span: Span, spanID: String, _ lookup: Lookup, keyTenant: String?) -> Result<[UInt8], SpanRejection> {
        func reject(_ reason: String) -> Result<[UInt8], SpanRejection> { .failure(SpanRejection(spanID: spanID, reason: reason)) }
        guard span.spanID.count == 8 else { return reject("the span id must be 8 bytes (it is \(span.spanID.count))") }
        let nanos = span.endTimeUnixNano != 0 ? span.endTimeUnixNano : span.startTimeUnixNano
        guard nanos != 0 else { return reject("the span has neither an end time nor a start time") }
        guard nanos / 1_000_000 <= UInt64(Int64.max) else { return reject("the span's end time is out of range") }
        let createdAt = Int64(nanos / 1_000_000)

        let tenant: String
        if let t = lookup.text(mapping.keys(for: .tenantID)) {
            tenant = t
        } else if let keyTenant {
            tenant = keyTenant
        } else {
            return reject("an admin key's spans must name their tenant (attribute \(mapping.keys(for: .tenantID).joined(separator: " or ")))")
        }
        let models = lookup.texts(mapping.keys(for: .model))
        guard let firstModel = models.first else {
            return reject("a GenAI span without a model (attribute \(mapping.keys(for: .model).joined(separator: " or ")))")
        }
        let cost: CostValue?
        switch costValue(lookup) {
        case let .success(c): cost = c
        case let .failure(refusal): return reject(refusal.reason)
        }
        let model = cost == nil ? (models.first { pricing?.entries(for: $0).isEmpty == false } ?? firstModel) : firstModel
        let input: Int64?, output: Int64?
        switch (tokens(lookup, .inputTokens), tokens(lookup, .outputTokens)) {
        case let (.success(i), .success(o)): (input, output) = (i, o)
        case let (.failure(refusal), _), let (_, .failure(refusal)): return reject(refusal.reason)
        }

        var w = JSONWriter(capacity: 256)
        w.object { w in
            w.field("tenant_id", tenant)
            w.field("request_id", spanID)
            w.field("model", model)
            for (field, name) in [(SpanMapping.Field.projectID, "project_id"), (.environment, "environment"), (.userID, "user_id"),
                                  (.featureTag, "feature_tag"), (.workflowID, "workflow_id"), (.skillID, "skill_id")] {
                if let value = lookup.text(mapping.keys(for: field)) { w.field(name, value) }
            }
            w.field("input_tokens", input ?? 0)
            w.field("output_tokens", output ?? 0)
            if let cost {
                w.key("cost_cents")
                switch cost {
                case let .text(t): w.string(t)
                case let .number(n): w.rawJSON(n)
                }
            }
            w.field("created_at", Timestamp.format(createdAt))
        }
        return .success(w.bytes)
    }

    /// `cost_cents` as the records path reads it: decimal text as given (the parser checks it), a number as plain decimal.
    private enum CostValue {
        case text(String)
        case number(String)
    }

    /// Why a value of a span cannot fill its field.
    private struct Refusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private func costValue(_ lookup: Lookup) -> Result<CostValue?, Refusal> {
        if let (key, value) = lookup.first(mapping.keys(for: .costCents)) {
            switch value {
            case let .stringValue(s): return .success(.text(s))
            case let .intValue(i): return i >= 0 ? .success(.number(String(i))) : .failure(Refusal("\(key) must not be negative"))
            case let .doubleValue(d):
                guard let t = DecimalText.plain(d) else { return .failure(Refusal("\(key) must be a finite number >= 0")) }
                return .success(.number(t))
            default: return .failure(Refusal("\(key) must be a number or a decimal string of cents"))
            }
        }
        if let (key, value) = lookup.first(mapping.keys(for: .costUSD)) {
            let cents: String?
            switch value {
            case let .stringValue(s): cents = DecimalText.plain(s, shift: 2)
            case let .intValue(i): cents = i >= 0 ? DecimalText.plain(String(i), shift: 2) : nil
            case let .doubleValue(d): cents = DecimalText.plain(d, shift: 2)
            default: cents = nil
            }
            guard let cents else { return .failure(Refusal("\(key) must be a non-negative number of US dollars")) }
            return .success(.number(cents))
        }
        return .success(nil)
    }

    private func tokens(_ lookup: Lookup, _ field: SpanMapping.Field) -> Result<Int64?, Refusal> {
        guard let (key, value) = lookup.first(mapping.keys(for: field)) else { return .success(nil) }
        switch value {
        case let .intValue(i) where i >= 0: return .success(i)
        case let .doubleValue(d) where d >= 0 && d.rounded() == d && d < 9.2e18: return .success(Int64(d))
        case let .stringValue(s):
            if let i = Int64(s), i >= 0 { return .success(i) }
        default: break
        }
        return .failure(Refusal("\(key) must be a whole number of tokens >= 0"))
    }
}

/// The attributes of a span or a resource, looked up by key (the last value of a key that appears twice wins).
struct Attributes {
    private let values: [String: AnyValue.OneOf_Value]

    init(_ list: [KeyValue]) {
        var values: [String: AnyValue.OneOf_Value] = [:]
        values.reserveCapacity(list.count)
        for kv in list { if let v = kv.value.value { values[kv.key] = v } }
        self.values = values
    }

    func value(_ key: String) -> AnyValue.OneOf_Value? { values[key] }
}

/// A span's attributes, then its resource's.
struct Lookup {
    let span: Attributes
    let resource: Attributes

    /// The first of `keys` present (in the span, else in the resource), with its value.
    func first(_ keys: [String]) -> (String, AnyValue.OneOf_Value)? {
        for key in keys {
            if let v = span.value(key) ?? resource.value(key) { return (key, v) }
        }
        return nil
    }

    /// The text of the first of `keys` present with a non-empty scalar value.
    func text(_ keys: [String]) -> String? {
        for key in keys {
            if let v = span.value(key) ?? resource.value(key), let t = Self.text(v), !t.isEmpty { return t }
        }
        return nil
    }

    /// The texts of every one of `keys` present with a non-empty scalar value, in order.
    func texts(_ keys: [String]) -> [String] {
        keys.compactMap { key in (span.value(key) ?? resource.value(key)).flatMap(Self.text).flatMap { $0.isEmpty ? nil : $0 } }
    }

    /// A scalar attribute value as text (strings as they are, numbers and booleans in their usual spelling).
    static func text(_ v: AnyValue.OneOf_Value) -> String? {
        switch v {
        case let .stringValue(s): s
        case let .intValue(i): String(i)
        case let .doubleValue(d): d.description
        case let .boolValue(b): b ? "true" : "false"
        default: nil
        }
    }
}
