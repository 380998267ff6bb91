import AfterimageCore
import AfterimageMetering
import Foundation
import Testing

/// Numbers from outside (upstream usage, admin amounts, sizes) can never trap the arithmetic.
@Suite struct HostileNumbersTests {
    @Test func moneySaturatesInsteadOfTrapping() {
        #expect(Money(nanos: Int64.max) + Money(nanos: 1) == Money.max)
        #expect(Money(nanos: Int64.min) - Money(nanos: 1) == Money(nanos: Int64.min))
        #expect(Money(nanos: 40_000) * 10_000_000_000_000_000 == Money.max)
        #expect(Money(nanos: -40_000) * Int.max == Money(nanos: Int64.min))
        var total = Money.max
        total += Money(nanos: 5)
        #expect(total == Money.max)
    }

    @Test func budgetAmountsBeyondRangeAreRefusedNotTrapped() {
        // 9223372036 whole dollars fit; the .9 pushes it past Int64 nano-dollars.
        #expect(Money(usd: "9223372036.9") == nil)
        #expect(Money(usd: "9223372036.854775807")?.nanos == Int64.max)
        #expect(Money(usd: "99999999999999999999") == nil)
        #expect(Money(usd: String(repeating: "9", count: 5000)) == nil)
    }

    @Test(arguments: [
        #"{"output_tokens": 10000000000000000}"#,
        #"{"output_tokens": -5}"#,
        #"{"output_tokens": 1.5}"#,
        #"{"output_tokens": "lots"}"#,
        #"{"input_tokens_details": {"text_tokens": 1e300}, "output_tokens": 10}"#,
        #"{"input_tokens_details": "nope", "output_tokens": 10}"#,
        #"{"output_tokens_details": {"image_tokens": 9223372036854775807}}"#,
    ])
    func nonsenseUpstreamUsageIsInvalid(_ json: String) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        let usage = try #require(TokenUsage(upstream: value))
        #expect(usage.source == .invalid)
        #expect(usage.imageOutput >= 0 && usage.textInput >= 0 && usage.imageOutput <= TokenUsage.maxPlausibleTokens)
    }

    @Test func plausibleUsageStaysUpstream() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"{"input_tokens": 12, "output_tokens": 1056}"#.utf8))
        #expect(TokenUsage(upstream: value)?.source == .upstream)
    }

    @Test func absurdSizesAreNotSizes() {
        #expect(ModelCapability.parseSize("4000000000x4000000000") == nil)
        #expect(ModelCapability.parseSize("99999999999999999999x1") == nil)
        #expect(ModelCapability.parseSize("100000x100000") != nil)
        // The estimator falls back to the square figure instead of multiplying huge sides.
        #expect(UsageEstimator.imageOutputTokens(size: "4000000000x4000000000", quality: "high") == 4160)
        // An extreme (but parseable) aspect ratio stays finite.
        #expect(UsageEstimator.imageInputTokens(width: 1, height: 2_000_000_000, fidelity: "high") == 65 + 129 * 64 + 6144)
    }
}
