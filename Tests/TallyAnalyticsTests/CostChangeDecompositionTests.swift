import TallyAnalytics
import TallyStore
import TallySynthetic
import TallyTestSupport
import Testing

/// The split of a cost change into volume, tokens per request, model mix and price.
@Suite("Cost change decomposition")
struct CostChangeDecompositionTests {
    typealias M = CostChangeDecomposition.ModelTotals

    @Test("the four parts add up exactly to the change, whatever the months (random cases, zeros and new models included)")
    func partsSumToTheChange() {
        var rng = Xoshiro256(seed: 3, stream: 1)
        let models = ["a", "b", "c", "d"]
        for _ in 0..<2_000 {
            func month() -> [M] {
                models.compactMap { m in
                    guard rng.uniform() < 0.7 else { return nil }
                    let requests = Int64(rng.below(1_000))
                    let tokens = rng.uniform() < 0.05 ? 0 : requests * Int64(1 + rng.below(5_000))
                    return M(model: m, requests: requests, tokens: tokens, costNanos: Int64(rng.below(1 << 40)))
                }
            }
            let before = month(), after = month()
            let d = CostChangeDecomposition(previous: before, current: after)
            let change = after.reduce(0) { $0 + $1.costNanos } - before.reduce(0) { $0 + $1.costNanos }
            #expect(d.changeNanos == change)
            #expect(d.volumeNanos + d.tokensPerRequestNanos + d.modelMixNanos + d.priceNanos == change)
        }
    }

    @Test("twice the requests at the same tokens per request, mix and prices is all volume")
    func pureVolume() {
        let before = [M(model: "a", requests: 100, tokens: 10_000, costNanos: 1_000_000), M(model: "b", requests: 50, tokens: 20_000, costNanos: 4_000_000)]
        let after = before.map { M(model: $0.model, requests: 2 * $0.requests, tokens: 2 * $0.tokens, costNanos: 2 * $0.costNanos) }
        let d = CostChangeDecomposition(previous: before, current: after)
        #expect(d.volumeNanos == 5_000_000)
        #expect(d.tokensPerRequestNanos == 0 && d.modelMixNanos == 0 && d.priceNanos == 0)
    }

    @Test("the same requests and tokens at doubled prices is all price")
    func purePrice() {
        let before = [M(model: "a", requests: 100, tokens: 10_000, costNanos: 1_000_000), M(model: "b", requests: 50, tokens: 20_000, costNanos: 4_000_000)]
        let after = before.map { M(model: $0.model, requests: $0.requests, tokens: $0.tokens, costNanos: 2 * $0.costNanos) }
        let d = CostChangeDecomposition(previous: before, current: after)
        #expect(d.priceNanos == 5_000_000)
        #expect(d.volumeNanos == 0 && d.tokensPerRequestNanos == 0 && d.modelMixNanos == 0)
    }

    @Test("moving tokens to a dearer model at unchanged prices is all model mix; longer requests are tokens per request")
    func mixAndTokens() {
        let before = [M(model: "cheap", requests: 100, tokens: 10_000, costNanos: 1_000_000), M(model: "dear", requests: 100, tokens: 10_000, costNanos: 10_000_000)]
        let after = [M(model: "cheap", requests: 50, tokens: 5_000, costNanos: 500_000), M(model: "dear", requests: 150, tokens: 15_000, costNanos: 15_000_000)]
        let mix = CostChangeDecomposition(previous: before, current: after)
        #expect(mix.modelMixNanos == 4_500_000)
        #expect(mix.volumeNanos == 0 && mix.tokensPerRequestNanos == 0 && mix.priceNanos == 0)

        let longer = before.map { M(model: $0.model, requests: $0.requests, tokens: 3 * $0.tokens, costNanos: 3 * $0.costNanos) }
        let tokens = CostChangeDecomposition(previous: before, current: longer)
        #expect(tokens.tokensPerRequestNanos == 22_000_000)
        #expect(tokens.volumeNanos == 0 && tokens.modelMixNanos == 0 && tokens.priceNanos == 0)
    }

    @Test("a previous month without spend makes the whole change volume")
    func emptyPrevious() {
        let d = CostChangeDecomposition(previous: [], current: [M(model: "a", requests: 3, tokens: 30, costNanos: 99)])
        #expect(d.volumeNanos == 99 && d.changeNanos == 99)
    }

    // MARK: Input/output mix and single causes

    typealias W = CostChangeDecomposition.TokenWeights

    /// One model in one period, its cost from whole nano-dollar prices per token (so costs are exact).
    struct Usage {
        var model: String
        var requests: Int64
        var input: Int64
        var output: Int64

        func totals(_ price: (input: Int64, output: Int64)) -> M {
            M(model: model, requests: requests, inputTokens: input, outputTokens: output, costNanos: input * price.input + output * price.output)
        }
    }

    static func decompose(_ before: [Usage], _ after: [Usage], prices: [String: (input: Int64, output: Int64)],
                          newPrices: [String: (input: Int64, output: Int64)]? = nil) -> CostChangeDecomposition {
        CostChangeDecomposition(previous: before.map { $0.totals(prices[$0.model]!) },
                                current: after.map { $0.totals((newPrices ?? prices)[$0.model]!) },
                                weights: prices.mapValues { W(input: $0.input * 1_000_000, output: $0.output * 1_000_000) })
    }

    /// The parts other than `name` are all zero, and `name` is the whole change.
    static func only(_ name: String, _ d: CostChangeDecomposition, _ comment: String) {
        for (part, nanos) in d.parts {
            #expect(nanos == (part == name ? d.changeNanos : 0), "\(part) of a \(name) change: \(comment)")
        }
        #expect(d.parts.reduce(0) { $0 + $1.nanos } == d.changeNanos)
    }

    @Test("the issue's case: same model, same prices, 1000 in / 100 out moved to 550 / 550 is all input/output mix, no price")
    func inputOutputShift() {
        let prices = ["m": (input: Int64(3_000), output: Int64(15_000))]
        let d = Self.decompose([Usage(model: "m", requests: 100, input: 100_000, output: 10_000)],
                               [Usage(model: "m", requests: 100, input: 55_000, output: 55_000)], prices: prices)
        #expect(d.changeNanos == (55_000 * 3_000 + 55_000 * 15_000) - (100_000 * 3_000 + 10_000 * 15_000))
        Self.only("io_mix", d, "the seed's example")
        #expect(d.unweightedModels.isEmpty)

        // Without weights the tokens weigh the same: the shift cannot be told from a price change, and says so.
        let blind = CostChangeDecomposition(previous: [M(model: "m", requests: 100, inputTokens: 100_000, outputTokens: 10_000, costNanos: 450_000_000)],
                                            current: [M(model: "m", requests: 100, inputTokens: 55_000, outputTokens: 55_000, costNanos: 990_000_000)])
        #expect(blind.ioMixNanos == 0 && blind.priceNanos == blind.changeNanos && blind.unweightedModels == ["m"])
    }

    @Test("property: random periods (splits, weights, new and gone models, zeros) split exactly; each single cause moves only its own part")
    func singleCauses() {
        var rng = Xoshiro256(seed: 13, stream: 5)
        func int(_ range: ClosedRange<Int>) -> Int64 { Int64(range.lowerBound + rng.below(range.upperBound - range.lowerBound + 1)) }
        for round in 0..<500 {
            let names = (0..<(1 + rng.below(5))).map { "m\($0)" }
            var prices: [String: (input: Int64, output: Int64)] = [:]
            for n in names { prices[n] = (int(1...5_000), int(1...20_000)) }
            // Every model's tokens come in units of 10 with its own fixed split, so tokens can move between models
            // without moving any model's split.
            var splitOf: [String: Int64] = [:]
            for n in names { splitOf[n] = int(1...9) }
            func usage(_ n: String, requests: Int64, units: Int64) -> Usage {
                Usage(model: n, requests: requests, input: splitOf[n]! * units, output: (10 - splitOf[n]!) * units)
            }
            let base = names.map { usage($0, requests: int(1...2_000), units: int(1...50_000)) }

            // Random periods: the parts always add up to the change.
            let other = names.compactMap { n -> Usage? in
                rng.uniform() < 0.2 ? nil : Usage(model: n, requests: int(0...3_000), input: int(0...400_000), output: int(0...400_000))
            }
            var shuffled: [String: (input: Int64, output: Int64)] = [:]
            for n in names { shuffled[n] = (int(0...5_000), int(0...20_000)) }
            let random = Self.decompose(base, other, prices: prices, newPrices: shuffled)
            #expect(random.parts.reduce(0) { $0 + $1.nanos } == random.changeNanos, "round \(round)")

            let k = int(2...7)
            Self.only("volume", Self.decompose(base, base.map { usage($0.model, requests: $0.requests * k, units: $0.input / splitOf[$0.model]! * k) },
                                               prices: prices), "round \(round), x\(k)")
            Self.only("volume", Self.decompose(base.map { usage($0.model, requests: $0.requests * k, units: $0.input / splitOf[$0.model]! * k) }, base,
                                               prices: prices), "round \(round), /\(k)")
            Self.only("tokens_per_request", Self.decompose(base, base.map { usage($0.model, requests: $0.requests, units: $0.input / splitOf[$0.model]! * k) },
                                                           prices: prices), "round \(round)")
            // The split of each model moves, its tokens and requests stay.
            let shifted = base.map { u -> Usage in
                let t = u.input + u.output
                let input = int(0...Int(t))
                return Usage(model: u.model, requests: u.requests, input: input, output: t - input)
            }
            Self.only("io_mix", Self.decompose(base, shifted, prices: prices), "round \(round)")
            // Units move between models (requests too), the total of both stays; each model keeps its split.
            if names.count > 1 {
                var units = base.map { $0.input / splitOf[$0.model]! }
                var requests = base.map(\.requests)
                let from = rng.below(names.count), to = (from + 1 + rng.below(names.count - 1)) % names.count
                let moved = int(0...Int(units[from]))
                units[from] -= moved
                units[to] += moved
                let movedRequests = int(0...Int(requests[from]))
                requests[from] -= movedRequests
                requests[to] += movedRequests
                let mixed = names.indices.map { usage(names[$0], requests: requests[$0], units: units[$0]) }
                Self.only("model_mix", Self.decompose(base, mixed, prices: prices), "round \(round)")
            }
            var dearer: [String: (input: Int64, output: Int64)] = [:]
            for n in names { dearer[n] = (int(1...5_000), int(1...20_000)) }
            Self.only("price", Self.decompose(base, base, prices: prices, newPrices: dearer), "round \(round)")
        }
    }

    @Test("a model new this month counts as model mix at its own cost, not price")
    func newModelIsMix() {
        let prices = ["old": (input: Int64(10), output: Int64(30)), "new": (input: Int64(40), output: Int64(80))]
        let before = [Usage(model: "old", requests: 10, input: 5_000, output: 5_000)]
        let after = [Usage(model: "old", requests: 5, input: 2_500, output: 2_500), Usage(model: "new", requests: 5, input: 2_500, output: 2_500)]
        Self.only("model_mix", Self.decompose(before, after, prices: prices), "a new model")
    }

    @Test("prices fitted to a model's daily totals: exact when costs are per token and the split varies; none when it cannot tell")
    func fittedWeights() {
        let days = (0..<30).map { d -> (inputTokens: Int64, outputTokens: Int64, costNanos: Int64) in
            let input = Int64(1_000 + 37 * d), output = Int64(100 + 11 * ((d * 7) % 13))
            return (input, output, input * 2_500 + output * 10_000)
        }
        #expect(W.fitted(days: days) == W(input: 2_500_000_000, output: 10_000_000_000))
        // The same split every day: input and output prices cannot be told apart.
        var sameSplit: [(inputTokens: Int64, outputTokens: Int64, costNanos: Int64)] = []
        for k in Int64(1)...30 { sameSplit.append((1_000 * k, 100 * k, 3_500_000 * k)) }
        #expect(W.fitted(days: sameSplit) == nil)
        // Costs that are not per token (a flat fee per day) are not explained to 1 %.
        let flat = days.map { d -> (inputTokens: Int64, outputTokens: Int64, costNanos: Int64) in (d.inputTokens, d.outputTokens, d.costNanos + 9_000_000) }
        #expect(W.fitted(days: flat) == nil)
        #expect(W.fitted(days: []) == nil)
    }
}

