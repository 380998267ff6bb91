import AfterimageCore
import Foundation
import Testing

@Suite struct RetryPolicyTests {
    @Test func retryAfterSecondsAndDates() {
        #expect(RetryPolicy.parseRetryAfter("3") == 3)
        #expect(RetryPolicy.parseRetryAfter(" 0.5 ") == 0.5)
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let later = RetryPolicy.parseRetryAfter("Tue, 14 Nov 2023 22:13:30 GMT", now: now)
        #expect(later == 10)
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        #expect(RetryPolicy.parseRetryAfter("-1") == nil)
    }

    /// The HTTP date parser against Foundation's formatter on random instants, and hostile values.
    @Test func httpDatesParseLikeAFormatterAndRefuseGarbage() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var random = SplitMix64(seed: 9)
        for _ in 0..<2_000 {
            let instant = Date(timeIntervalSince1970: TimeInterval(Int64(random.next() % 8_000_000_000) - 2_000_000_000))
            let text = formatter.string(from: instant)
            #expect(HTTPDate.parse(text) == instant, "\(text)")
        }
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
        #expect(HTTPDate.parse("Thu, 29 Feb 2024 00:00:00 GMT") != nil)
        for hostile in [
            "", "Sun, 06 Nov 1994 08:49:37 UTC", "Mon, 06 Nov 1994 08:49:37 GMT", "Wed, 29 Feb 2023 00:00:00 GMT",
            "Sun, 31 Apr 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:61:00 GMT",
            "Sun, -6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 0994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT ",
            "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nvv 1994 08:49:37 GMT",
            String(repeating: "9", count: 10_000), "Sun, 06 Nov 1994 08:49:3\u{0}GMT",
        ] {
            #expect(HTTPDate.parse(hostile) == nil, "\(hostile.prefix(40))")
        }
    }

    @Test func backoffGrowsAndIsCapped() {
        let policy = RetryPolicy(maxAttempts: 10, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(400), maxTotal: .seconds(60))
        for _ in 0..<50 {
            let first = policy.delay(afterAttempt: 1, retryAfter: nil)
            #expect(first >= .milliseconds(50) && first <= .milliseconds(100))
            let third = policy.delay(afterAttempt: 3, retryAfter: nil)
            #expect(third >= .milliseconds(200) && third <= .milliseconds(400))
            let tenth = policy.delay(afterAttempt: 10, retryAfter: nil)
            #expect(tenth <= .milliseconds(400))
        }
    }

    @Test func retryAfterWins() {
        let policy = RetryPolicy()
        #expect(policy.delay(afterAttempt: 1, retryAfter: "2") == .seconds(2))
    }

    /// Whatever an upstream sends as `Retry-After`, the wait stays within the time budget (+1 s)
    /// and the conversion cannot trap.
    @Test(arguments: ["1e300", "-5", "soon", String(repeating: "9", count: 400), "inf", "nan", "9223372036854775807", "Fri, 31 Dec 9999 23:59:59 GMT", "0x10", ""])
    func hostileRetryAfterIsClampedToTheBudget(_ value: String) {
        let policy = RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(250), maxBackoff: .seconds(8), maxTotal: .seconds(2))
        for attempt in [1, 2, 3, 64, Int.max] {
            let delay = policy.delay(afterAttempt: attempt, retryAfter: value)
            #expect(delay >= .zero && delay <= .seconds(8), "\(value) after attempt \(attempt): \(delay)")
            if RetryPolicy.parseRetryAfter(value) != nil { #expect(delay <= .seconds(3)) }
        }
    }
}
