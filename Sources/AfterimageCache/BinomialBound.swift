import Foundation
#if canImport(Glibc)
import Glibc
private func logGamma(_ x: Double) -> Double { Glibc.lgamma(x) }
#else
import Darwin
private func logGamma(_ x: Double) -> Double { Darwin.lgamma(x) }
#endif

/// Exact (Clopper–Pearson) one-sided upper confidence bounds of a binomial proportion: with `x`
/// events in `n` trials, the largest rate `p` still consistent with seeing no more than `x`
/// events, i.e. the `p` where P(X ≤ x | n, p) = 1 − confidence.
public enum BinomialBound {
    /// The most trials the bound accepts (a log holds at most 100 million rows).
    public static let maxTrials = 100_000_000

    /// The upper bound of the rate; 1 when `x == n` (or `n == 0`: nothing is known). The
    /// confidence is clamped to [0.5, 0.999999].
    public static func upper(events x: Int, trials n: Int, confidence: Double) -> Double {
        guard n > 0, x < n, n <= maxTrials, confidence.isFinite else { return 1 }
        let x = max(0, x)
        let alpha = 1 - min(max(confidence, 0.5), 0.999_999)
        if x == 0 { return 1 - pow(alpha, 1 / Double(n)) }
        // P(X ≤ x) falls as p rises: bisect for the p where it equals alpha.
        var low = Double(x) / Double(n), high = 1.0
        for _ in 0..<200 where high - low > 1e-12 {
            let middle = (low + high) / 2
            if cdf(x, n, middle) > alpha { low = middle } else { high = middle }
        }
        return high
    }

    /// P(X ≤ x) for X ~ Binomial(n, p), summed in log space (stable for large n).
    public static func cdf(_ x: Int, _ n: Int, _ p: Double) -> Double {
        guard p > 0 else { return 1 }
        guard p < 1 else { return x >= n ? 1 : 0 }
        let logP = log(p), logQ = log1p(-p), logNFactorial = logGamma(Double(n) + 1)
        var total = 0.0
        for k in 0...min(x, n) {
            let logTerm = logNFactorial - logGamma(Double(k) + 1) - logGamma(Double(n - k) + 1) + Double(k) * logP + Double(n - k) * logQ
            total += exp(logTerm)
        }
        return min(1, total)
    }

    /// The fewest trials with `x` events whose upper bound is at or below `target`, or nil when
    /// no number of trials up to `maxTrials` gets there.
    public static func trialsNeeded(events x: Int, target: Double, confidence: Double) -> Int? {
        guard target > 0, target < 1 else { return nil }
        var high = max(1, x + 1)
        while upper(events: x, trials: high, confidence: confidence) > target {
            guard high <= maxTrials / 2 else { return nil }
            high *= 2
        }
        var low = max(1, x + 1)
        while low < high {
            let middle = low + (high - low) / 2
            if upper(events: x, trials: middle, confidence: confidence) > target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
