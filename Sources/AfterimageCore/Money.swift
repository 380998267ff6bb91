import Foundation

/// An exact amount of US dollars in integer nano-dollars (10⁻⁹ USD). Token prices such as
/// $1.25 per 1M tokens are 1,250 nano-dollars per token, so every cost is an exact integer sum;
/// rounding to micro-dollars happens only when an amount is displayed.
public struct Money: Sendable, Hashable, Comparable, Codable {
    public var nanos: Int64

    public init(nanos: Int64) { self.nanos = nanos }

    public static let zero = Money(nanos: 0)

    /// Parses a decimal USD amount (`"0.04"`, `"1.25"`); nil if it is not a plain decimal or has
    /// more precision than a nano-dollar.
    public init?(usd text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isNumber || $0 == "." }), trimmed.filter({ $0 == "." }).count <= 1 else { return nil }
        let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        let whole = parts[0].isEmpty ? "0" : String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        guard fraction.count <= 9, let units = Int64(whole), let fractional = Int64(fraction.isEmpty ? "0" : fraction) else { return nil }
        var scale: Int64 = 1
        for _ in 0..<(9 - fraction.count) { scale *= 10 }
        let (wholeNanos, overflow) = units.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return nil }
        let (total, sumOverflow) = wholeNanos.addingReportingOverflow(fractional * scale)
        guard !sumOverflow else { return nil }
        nanos = total
    }

    /// The largest amount Afterimage computes with ($9.2 billion); arithmetic saturates here
    /// instead of trapping, so a nonsense input can only make a cost huge, never crash or wrap.
    public static let max = Money(nanos: Int64.max)
    /// The most one request may cost ($1,000,000): above it a computed cost is nonsense (an
    /// upstream's absurd usage) and is treated as such. Sums of many such rows still fit in Int64.
    public static let requestCeiling = Money(nanos: 1_000_000_000_000_000)

    /// `price` per unit × `count` units, saturating at ±`Money.max`.
    public static func * (price: Money, count: Int) -> Money {
        let (product, overflow) = price.nanos.multipliedReportingOverflow(by: Int64(clamping: count))
        guard !overflow else { return Money(nanos: (price.nanos < 0) != (count < 0) ? Int64.min : Int64.max) }
        return Money(nanos: product)
    }
    /// Saturating sum.
    public static func + (a: Money, b: Money) -> Money {
        let (sum, overflow) = a.nanos.addingReportingOverflow(b.nanos)
        guard !overflow else { return Money(nanos: b.nanos > 0 ? Int64.max : Int64.min) }
        return Money(nanos: sum)
    }
    /// Saturating difference.
    public static func - (a: Money, b: Money) -> Money {
        let (difference, overflow) = a.nanos.subtractingReportingOverflow(b.nanos)
        guard !overflow else { return Money(nanos: b.nanos < 0 ? Int64.max : Int64.min) }
        return Money(nanos: difference)
    }
    public static func += (a: inout Money, b: Money) { a = a + b }
    public static func < (a: Money, b: Money) -> Bool { a.nanos < b.nanos }

    /// Whole micro-dollars, rounded half away from zero (display and reports).
    public var micros: Int64 {
        let (quotient, remainder) = nanos.quotientAndRemainder(dividingBy: 1000)
        if remainder >= 500 { return quotient + 1 }
        if remainder <= -500 { return quotient - 1 }
        return quotient
    }

    /// USD with six decimals, e.g. `"0.042540"`.
    public var usdString: String {
        let micros = self.micros
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        let fraction = String(magnitude % 1_000_000)
        return "\(sign)\(magnitude / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
