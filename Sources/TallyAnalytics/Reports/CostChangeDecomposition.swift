import TallyText

/// The change in cost between two periods split into four effects that add up exactly to the change:
/// volume (requests), tokens per request, model mix and price.
///
/// The cost of a period is written as `C = N x (T / N) x sum_m s_m x p_m`, where `N` is the number of requests,
/// `T` the tokens (input + output), `s_m = t_m / T` the share of the tokens that went to model `m`, and
/// `p_m = c_m / t_m` the cost per token of model `m` (its list prices and its input/output mix). The effects are
/// found by **sequential substitution** in that order, each factor switched from the previous period's value to
/// the current one while the factors after it keep their previous values:
///
/// - `C_a = C0 x N1 / N0` (only the number of requests changed): volume = `C_a - C0`;
/// - `C_b = C_a x tau1 / tau0` with `tau = T / N` (and tokens per request): tokens_per_request = `C_b - C_a`;
/// - `C_c = T1 x sum_m s_m1 x p_m0` (and the model mix, at the previous costs per token): mix = `C_c - C_b`;
/// - price = `C1 - C_c` (the costs per token themselves).
///
/// The four effects telescope to `C1 - C0` exactly; they are rounded to whole nano-dollars and the price effect
/// takes the rounding (at most a few nano-dollars), so the parts sum to the change in integer arithmetic. A model
/// used only in the current period is priced at its own current cost per token in `C_c`, so its arrival shows as
/// mix, not price. When the previous period has no requests (or no tokens) the ratios are undefined: the whole
/// change is volume (or volume and tokens per request up to that point). Order matters in sequential
/// substitution; this order (how much, how big, which model, at what price) reads as a story.
public struct CostChangeDecomposition: Sendable, Equatable {
    /// Totals of one model in one period.
    public struct ModelTotals: Sendable, Equatable {
        public var model: String
        public var requests: Int64
        public var tokens: Int64
        public var costNanos: Int64

        /// A model's totals.
        public init(model: String, requests: Int64, tokens: Int64, costNanos: Int64) {
            self.model = model
            self.requests = requests
            self.tokens = tokens
            self.costNanos = costNanos
        }
    }

    /// `C1 - C0`, nano-dollars.
    public var changeNanos: Int64
    public var volumeNanos: Int64
    public var tokensPerRequestNanos: Int64
    public var modelMixNanos: Int64
    public var priceNanos: Int64

    /// The decomposition of the change from `previous` to `current` (per model).
    public init(previous: [ModelTotals], current: [ModelTotals]) {
        let c0 = previous.reduce(Int64(0)) { $0 + $1.costNanos }
        let c1 = current.reduce(Int64(0)) { $0 + $1.costNanos }
        let n0 = Double(previous.reduce(Int64(0)) { $0 + $1.requests })
        let n1 = Double(current.reduce(Int64(0)) { $0 + $1.requests })
        let t0 = Double(previous.reduce(Int64(0)) { $0 + $1.tokens })
        let t1 = Double(current.reduce(Int64(0)) { $0 + $1.tokens })
        changeNanos = c1 - c0
        let base = Double(c0)
        guard n0 > 0, c0 > 0 else {
            volumeNanos = changeNanos
            tokensPerRequestNanos = 0
            modelMixNanos = 0
            priceNanos = 0
            return
        }
        let ca = base * n1 / n0
        guard t0 > 0, n1 > 0 else {
            volumeNanos = Self.round(ca - base)
            tokensPerRequestNanos = changeNanos - volumeNanos
            modelMixNanos = 0
            priceNanos = 0
            return
        }
        let cb = ca * (t1 / n1) / (t0 / n0)
        var pricePrevious: [String: Double] = [:]
        for m in previous where m.tokens > 0 { pricePrevious[m.model] = Double(m.costNanos) / Double(m.tokens) }
        var cc = 0.0
        for m in current where m.tokens > 0 {
            let p = pricePrevious[m.model] ?? Double(m.costNanos) / Double(m.tokens)
            cc += Double(m.tokens) * p
        }
        volumeNanos = Self.round(ca - base)
        tokensPerRequestNanos = Self.round(cb - ca)
        modelMixNanos = Self.round(cc - cb)
        priceNanos = changeNanos - volumeNanos - tokensPerRequestNanos - modelMixNanos
    }

    static func round(_ v: Double) -> Int64 {
        guard v.isFinite else { return 0 }
        return Int64(max(min(v.rounded(), 9.0e18), -9.0e18))
    }

    /// The four effects, in order, with their wire names.
    public var parts: [(name: String, nanos: Int64)] {
        [("volume", volumeNanos), ("tokens_per_request", tokensPerRequestNanos), ("model_mix", modelMixNanos), ("price", priceNanos)]
    }
}
