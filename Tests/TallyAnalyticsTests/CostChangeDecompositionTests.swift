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
}
