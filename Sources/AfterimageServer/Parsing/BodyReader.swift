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
    static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        try await stream(request, limit: limit) { chunk in
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    /// Hands each chunk to `consume`, throwing 413 once more than `limit` bytes arrived.
    static func stream(_ request: Request, limit: Int, consume: (ByteBuffer) throws -> Void) async throws {
        try checkDeclaredLength(request, limit: limit)
        var total = 0
        for try await chunk in request.body {
            total += chunk.readableBytes
            if total > limit { throw AfterimageError.payloadTooLarge(limit: limit) }
            try consume(chunk)
        }
    }
}
