import AfterimageCore
import Hummingbird

/// Reads request bodies chunk by chunk, refusing with 413 as soon as the limit is passed:
/// nothing past the limit is ever buffered.
enum BodyReader {
    /// Refuses at once when `Content-Length` already announces more than `limit`.
    static func checkDeclaredLength(_ request: Request, limit: Int) throws {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw AfterimageError.payloadTooLarge(limit: limit)
        }
    }

    /// The whole body, at most `limit` bytes.
    static func collect(_ request: Request, limit: Int, minRate: Int = 0) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        try await stream(request, limit: limit, minRate: minRate) { chunk in
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    /// Seconds a body may take before its average rate is checked.
    static let rateGraceSeconds = 10.0

    /// Hands each chunk to `consume`, throwing 413 once more than `limit` bytes arrived, and 408
    /// when, after the first 10 s, the body arrives slower than `minRate` bytes/s on average (a
    /// trickled upload cannot hold a connection and its buffer forever).
    static func stream(_ request: Request, limit: Int, minRate: Int = 0, consume: (ByteBuffer) throws -> Void) async throws {
        try checkDeclaredLength(request, limit: limit)
        var total = 0
        let started = ContinuousClock.now
        for try await chunk in request.body {
            total += chunk.readableBytes
            if total > limit { throw AfterimageError.payloadTooLarge(limit: limit) }
            if minRate > 0 {
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                if seconds > rateGraceSeconds, Double(total) < Double(minRate) * seconds {
                    throw AfterimageError(status: 408, code: .requestTimeout, message: "The request body arrived slower than \(minRate) bytes per second.")
                }
            }
            try consume(chunk)
        }
    }
}
