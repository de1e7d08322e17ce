#if canImport(Glibc)
import Glibc
#endif

/// xoshiro256** seeded through SplitMix64: small, fast, and the same stream on every platform.
///
/// The synthetic generator and the test record generators depend on this stream being stable: the same
/// seed must give byte-identical data across runs and builds, which `SystemRandomNumberGenerator` and
/// the standard library's unspecified algorithms do not promise.
package struct Xoshiro256: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    /// The second normal deviate of the last Box-Muller pair, if not used yet.
    private var spareNormal: Double?

    /// A generator for `seed`; `stream` selects an independent sequence for the same seed.
    package init(seed: UInt64, stream: UInt64 = 0) {
        var sm = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(&sm); s1 = splitMix(&sm); s2 = splitMix(&sm); s3 = splitMix(&sm)
    }

    /// The next 64 random bits.
    @inline(__always)
    package mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform double in `[0, 1)` with 53 random bits.
    @inline(__always)
    package mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A uniform integer in `0..<bound` (`bound > 0`), by Lemire's multiply-shift (bias below 2^-64 * bound).
    @inline(__always)
    package mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A uniform double in `lower..<upper`.
    @inline(__always)
    package mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * uniform()
    }

    /// A standard normal deviate (Box-Muller, both values of each pair used).
    @inline(__always)
    package mutating func normal() -> Double {
        if let z = spareNormal {
            spareNormal = nil
            return z
        }
        // 1 - uniform() lies in (0, 1], so the log is finite.
        let r = (-2 * log(1 - uniform())).squareRoot()
        let theta = 2 * Double.pi * uniform()
        spareNormal = r * sin(theta)
        return r * cos(theta)
    }

    /// A log-normal deviate `exp(N(mu, sigma))`.
    @inline(__always)
    package mutating func logNormal(mu: Double = 0, sigma: Double) -> Double {
        exp(mu + sigma * normal())
    }

    /// A random permutation of `0..<n` (Fisher-Yates).
    package mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        var i = n - 1
        while i > 0 {
            a.swapAt(i, below(i + 1))
            i -= 1
        }
        return a
    }

    /// `k` distinct indices of `weights`, drawn one after another proportionally to the remaining weights.
    package mutating func weightedSample(_ weights: [Double], count k: Int) -> [Int] {
        var w = weights
        var chosen: [Int] = []
        for _ in 0..<min(k, w.count) {
            let total = w.reduce(0, +)
            guard total > 0 else { break }
            var u = uniform() * total
            var pick = w.count - 1
            for (i, x) in w.enumerated() where x > 0 {
                if u < x { pick = i; break }
                u -= x
            }
            while w[pick] == 0 { pick -= 1 }  // rounding left u past the end: take the last live weight
            chosen.append(pick)
            w[pick] = 0
        }
        return chosen
    }
}

/// Walker/Vose alias tables for many small categorical distributions, flattened into shared arrays.
///
/// Drawing costs one uniform and two array reads, whatever the number of categories.
struct AliasTables: Sendable {
    private var offsets: [Int32] = [0]
    private var probability: [Double] = []
    private var alias: [Int32] = []
    /// What each category stands for (a string code, a model index...).
    private var values: [Int32] = []

    init() {}

    /// Number of distributions.
    var count: Int { offsets.count - 1 }

    /// Adds a distribution over `values` with (unnormalised, positive) `weights`; returns its index.
    @discardableResult
    mutating func add(values v: [Int32], weights: [Double]) -> Int {
        precondition(v.count == weights.count && !v.isEmpty)
        let n = v.count
        let total = weights.reduce(0, +)
        var scaled = weights.map { $0 / total * Double(n) }
        var prob = [Double](repeating: 1, count: n)
        var al = [Int32](repeating: 0, count: n)
        var small: [Int] = [], large: [Int] = []
        for i in 0..<n {
            al[i] = Int32(i)
            if scaled[i] < 1 { small.append(i) } else { large.append(i) }
        }
        while let s = small.popLast(), let l = large.popLast() {
            prob[s] = scaled[s]
            al[s] = Int32(l)
            scaled[l] = scaled[l] + scaled[s] - 1
            if scaled[l] < 1 { small.append(l) } else { large.append(l) }
        }
        // Whatever is left over is 1 up to rounding.
        let base = Int32(probability.count)
        probability.append(contentsOf: prob)
        alias.append(contentsOf: al.map { $0 + base })
        values.append(contentsOf: v)
        offsets.append(Int32(probability.count))
        return count - 1
    }

    /// Draws from distribution `table`.
    @inline(__always)
    func draw(_ table: Int, _ rng: inout Xoshiro256) -> Int32 {
        let start = Int(offsets[table])
        let n = Int(offsets[table + 1]) - start
        let x = rng.uniform() * Double(n)
        let k = min(Int(x), n - 1)
        let slot = start + k
        return x - Double(k) < probability[slot] ? values[slot] : values[Int(alias[slot])]
    }
}
