import TallyText

/// The change in cost between two periods split into five effects that add up exactly to the change:
/// volume (requests), tokens per request, model mix, input/output mix and price.
///
/// The cost of a period is written as `C = N x (T / N) x sum_m s_m x w_m x q_m`, where `N` is the number of
/// requests, `T` the tokens (input + output), `s_m = T_m / T` the share of the tokens that went to model `m`,
/// `w_m = W_m / T_m` its weighted tokens per token and `q_m = C_m / W_m` its cost per weighted token. A model's
/// weighted tokens are `W_m = I_m x a_m + O_m x b_m`: its input and output tokens weighed by what one input and one
/// output token of it cost (its list prices; see `TokenWeights`). So `w_m` moves only when the model's input/output
/// split moves, and `q_m` only when its prices (or its cost per token at an unchanged split) move.
///
/// The effects come from **sequential substitution** in that order, each factor switched from the previous period's
/// value to the current one while the factors after it keep their previous values:
///
/// - `C_a = C0 x N1 / N0` (only the number of requests changed): volume = `C_a - C0`;
/// - `C_b = C0 x T1 / T0` (and tokens per request): tokens_per_request = `C_b - C_a`;
/// - `C_c = sum_m C_m0 x T_m1 / T_m0` (and the model shares, at each model's previous cost per token):
///   model_mix = `C_c - C_b`;
/// - `C_d = sum_m C_m0 x W_m1 / W_m0` (and each model's input/output split, at its previous cost per weighted
///   token): io_mix = `C_d - C_c`;
/// - price = `C1 - C_d`.
///
/// Each `C_x` is an exact rational of integers (128-bit), rounded half away from zero to whole nano-dollars once, and
/// the effects are differences of those integers: they add up to `C1 - C0` exactly, with no residual to place. An
/// effect whose cause did not change is exactly zero: its two `C_x` are the same rational, so they round alike (the
/// sums over models keep each term's whole part exact and add the fractional parts in doubles, which can only tip a
/// result lying within about 1e-15 of a half). A model used only in the current period enters `C_c` and `C_d` at its
/// own current cost, so its arrival shows as model mix, not price; a model without tokens in the current period adds
/// its cost to price. When the previous period has no requests (or no spend) the ratios are undefined and the whole
/// change is volume; with no tokens before (or no requests now) the rest after volume is tokens per request.
public struct CostChangeDecomposition: Sendable, Equatable {
    /// Totals of one model in one period.
    public struct ModelTotals: Sendable, Equatable {
        public var model: String
        public var requests: Int64
        public var inputTokens: Int64
        public var outputTokens: Int64
        public var costNanos: Int64

        /// A model's totals.
        public init(model: String, requests: Int64, inputTokens: Int64, outputTokens: Int64, costNanos: Int64) {
            self.model = model
            self.requests = requests
            self.inputTokens = inputTokens
            self.outputTokens = outputTokens
            self.costNanos = costNanos
        }

        /// A model's totals when the input/output split does not matter (all counted as input).
        public init(model: String, requests: Int64, tokens: Int64, costNanos: Int64) {
            self.init(model: model, requests: requests, inputTokens: tokens, outputTokens: 0, costNanos: costNanos)
        }

        /// Input + output tokens.
        public var tokens: Int64 { inputTokens + outputTokens }
    }

    /// What one input and one output token of a model weigh (only their ratio matters): its list prices, e.g. nano-dollars
    /// per million tokens of the price table.
    public struct TokenWeights: Sendable, Equatable {
        public var input: Int64
        public var output: Int64

        /// Weights; both must be >= 0 and not both 0 (else the model's tokens weigh 1 each).
        public init(input: Int64, output: Int64) {
            self.input = input
            self.output = output
        }

        /// Every token the same: with these, the input/output mix effect is 0 and a shift in the split shows as price.
        public static let equal = TokenWeights(input: 1, output: 1)

        /// A model's input and output prices fitted to its daily totals (least squares of `cost = a x input + b x
        /// output`, no intercept), as nano-dollars per million tokens: for a model without list prices, whose records
        /// carry their own cost. nil when the days do not tell the two prices apart (the split hardly varied: the
        /// correlation of input and output tokens over the days is above 0.999), when a price comes out negative, or
        /// when the fit explains the costs worse than to 1 % (prices changed within the days, or cost is not per token).
        public static func fitted(days: [(inputTokens: Int64, outputTokens: Int64, costNanos: Int64)]) -> TokenWeights? {
            var (ii, io, oo, ic, oc, cc) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            for d in days {
                let (i, o, c) = (Double(d.inputTokens), Double(d.outputTokens), Double(d.costNanos))
                ii += i * i
                io += i * o
                oo += o * o
                ic += i * c
                oc += o * c
                cc += c * c
            }
            let det = ii * oo - io * io
            guard ii > 0, oo > 0, cc > 0, det > 0.002 * ii * oo else { return nil }
            let a = (ic * oo - oc * io) / det, b = (oc * ii - ic * io) / det
            guard a >= 0, b >= 0, a + b > 0 else { return nil }
            let residual = cc - 2 * (a * ic + b * oc) + a * a * ii + 2 * a * b * io + b * b * oo
            guard residual <= 1e-4 * cc else { return nil }
            let weights = TokenWeights(input: Int64((a * 1_000_000).rounded()), output: Int64((b * 1_000_000).rounded()))
            return weights.input > 0 || weights.output > 0 ? weights : nil
        }

        /// The weights reduced by their greatest common divisor (smaller products), or `equal` when unusable.
        var reduced: TokenWeights {
            guard input >= 0, output >= 0, input > 0 || output > 0 else { return .equal }
            var (a, b) = (input, output)
            while b != 0 { (a, b) = (b, a % b) }
            return TokenWeights(input: input / a, output: output / a)
        }
    }

    /// `C1 - C0`, nano-dollars.
    public var changeNanos: Int64
    public var volumeNanos: Int64
    public var tokensPerRequestNanos: Int64
    public var modelMixNanos: Int64
    /// The shift of tokens between input and output within each model.
    public var ioMixNanos: Int64
    public var priceNanos: Int64
    /// Models whose tokens were weighed `equal` for want of weights (their split shifts show as price).
    public var unweightedModels: [String]

    /// The decomposition of the change from `previous` to `current` (per model); `weights` weigh each model's input and
    /// output tokens (a model without weights weighs them `equal`).
    public init(previous: [ModelTotals], current: [ModelTotals], weights: [String: TokenWeights] = [:]) {
        let c0 = previous.reduce(Int64(0)) { $0 + $1.costNanos }
        let c1 = current.reduce(Int64(0)) { $0 + $1.costNanos }
        let n0 = previous.reduce(Int128(0)) { $0 + Int128($1.requests) }
        let n1 = current.reduce(Int128(0)) { $0 + Int128($1.requests) }
        let t0 = previous.reduce(Int128(0)) { $0 + Int128($1.tokens) }
        let t1 = current.reduce(Int128(0)) { $0 + Int128($1.tokens) }
        changeNanos = c1 - c0
        tokensPerRequestNanos = 0
        modelMixNanos = 0
        ioMixNanos = 0
        priceNanos = 0
        unweightedModels = []
        guard n0 > 0, c0 > 0 else {
            volumeNanos = changeNanos
            return
        }
        let ca = Self.scaled(c0, by: n1, over: n0)
        volumeNanos = ca - c0
        guard t0 > 0, n1 > 0 else {
            tokensPerRequestNanos = changeNanos - volumeNanos
            return
        }
        let cb = Self.scaled(c0, by: t1, over: t0)
        var before: [String: ModelTotals] = [:]
        for m in previous { before[m.model, default: ModelTotals(model: m.model, requests: 0, inputTokens: 0, outputTokens: 0, costNanos: 0)].add(m) }
        var cc = ExactSum(), cd = ExactSum()
        var unweighted: Set<String> = []
        for m in current where m.tokens > 0 {
            guard let p = before[m.model], p.tokens > 0 else {
                cc.add(Int128(m.costNanos), over: 1)
                cd.add(Int128(m.costNanos), over: 1)
                continue
            }
            cc.add(Int128(p.costNanos) * Int128(m.tokens), over: Int128(p.tokens))
            let w = weights[m.model]?.reduced ?? .equal
            if weights[m.model] == nil { unweighted.insert(m.model) }
            let w0 = Int128(p.inputTokens) * Int128(w.input) + Int128(p.outputTokens) * Int128(w.output)
            let w1 = Int128(m.inputTokens) * Int128(w.input) + Int128(m.outputTokens) * Int128(w.output)
            if w0 > 0 {
                cd.add(Int128(p.costNanos), times: w1, over: w0)
            } else {
                cd.add(Int128(p.costNanos) * Int128(m.tokens), over: Int128(p.tokens))
            }
        }
        unweightedModels = unweighted.sorted()
        let c = cc.rounded, d = cd.rounded
        tokensPerRequestNanos = cb - ca
        modelMixNanos = c - cb
        ioMixNanos = d - c
        priceNanos = c1 - d
    }

    /// `value x numerator / denominator` rounded half away from zero (denominator > 0), saturating.
    static func scaled(_ value: Int64, by numerator: Int128, over denominator: Int128) -> Int64 {
        var s = ExactSum()
        s.add(Int128(value), times: numerator, over: denominator)
        return s.rounded
    }

    /// The five effects, in the order the report lists them, with their wire names.
    public var parts: [(name: String, nanos: Int64)] {
        [("volume", volumeNanos), ("tokens_per_request", tokensPerRequestNanos), ("io_mix", ioMixNanos),
         ("model_mix", modelMixNanos), ("price", priceNanos)]
    }
}

extension CostChangeDecomposition.ModelTotals {
    /// Adds another row of the same model (a model listed twice counts once).
    mutating func add(_ o: Self) {
        requests += o.requests
        inputTokens += o.inputTokens
        outputTokens += o.outputTokens
        costNanos += o.costNanos
    }
}

/// A sum of non-negative fractions kept as an exact integer part plus the sum of the fractional parts (each < 1, added
/// as doubles), rounded half away from zero once at the end. Equal fractions give equal parts, so two sums of the same
/// rationals round alike.
struct ExactSum {
    private var whole: Int128 = 0
    private var fraction: Double = 0

    /// Adds `numerator / denominator` (denominator > 0, numerator >= 0).
    mutating func add(_ numerator: Int128, over denominator: Int128) {
        guard denominator > 0 else { return }
        let (q, r) = numerator.quotientAndRemainder(dividingBy: denominator)
        whole += q
        if r != 0 { fraction += Double(r) / Double(denominator) }
    }

    /// Adds `a x b / denominator`, falling back to doubles when `a x b` leaves 128 bits (sums beyond 10^20 dollars).
    mutating func add(_ a: Int128, times b: Int128, over denominator: Int128) {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if !overflow {
            add(product, over: denominator)
        } else {
            let v = Double(a) * (Double(b) / Double(denominator))
            let w = v.rounded(.down)
            whole += Int128(w)
            fraction += v - w
        }
    }

    /// The sum rounded half away from zero to an integer, saturating to `Int64`.
    var rounded: Int64 {
        let total = whole + Int128(fraction.rounded(.toNearestOrAwayFromZero))
        return total > Int128(Int64.max) ? Int64.max : total < Int128(Int64.min) ? Int64.min : Int64(total)
    }
}
