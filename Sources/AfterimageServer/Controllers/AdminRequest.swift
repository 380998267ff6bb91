import AfterimageCore
import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// Request and response helpers shared by the admin controllers.
enum AdminRequest {
    static let maxBodyBytes = 1 << 20

    /// The body as a JSON object; an empty body is `[:]` when `allowEmpty`, else an error.
    static func jsonObject(_ request: Request, allowEmpty: Bool = false) async throws -> [String: JSONValue] {
        let buffer = try await BodyReader.collect(request, limit: maxBodyBytes)
        if allowEmpty, buffer.readableBytes == 0 { return [:] }
        guard let object = (try? JSONParser.parse(Data(buffer: buffer)))?.objectValue else {
            throw AfterimageError.invalidPayload("Request body must be a JSON object.")
        }
        for (name, value) in object where name.containsNUL || value.containsNUL {
            throw AfterimageError.nulCharacters(param: LogText.echo(name))
        }
        return object
    }

    /// The query parameters; any name outside `allowed` is a 400 naming it.
    static func query(_ request: Request, allowed: Set<String>) throws -> [String: String] {
        var values = [String: String]()
        for (name, value) in request.uri.queryParameters {
            let key = String(name)
            guard allowed.contains(key) else {
                let known = allowed.isEmpty ? "this route takes none" : "use \(allowed.sorted().joined(separator: ", "))"
                throw AfterimageError.invalidPayload("Unknown query parameter '\(key)'; \(known).", param: key)
            }
            guard !value.containsNUL else { throw AfterimageError.nulCharacters(param: key) }
            values[key] = String(value)
        }
        return values
    }

    /// A path parameter; nil when absent or when it holds a NUL character (no stored name can).
    static func pathParameter(_ context: AfterimageRequestContext, _ name: String) -> String? {
        guard let value = context.parameters.get(name), !value.containsNUL else { return nil }
        return value
    }

    /// A path parameter that names something to create or change: a NUL character is a 400.
    static func requiredPathParameter(_ context: AfterimageRequestContext, _ name: String) throws -> String {
        let value = context.parameters.get(name) ?? ""
        guard !value.containsNUL else { throw AfterimageError.nulCharacters(param: name) }
        return value
    }

    /// `now` minus an age parameter such as `7d`; nil when the parameter is absent.
    static func cutoff(_ query: [String: String], _ name: String, now: Date = Date()) throws -> Date? {
        guard let text = query[name] else { return nil }
        guard let date = AgeText.cutoff(text, now: now) else {
            throw AfterimageError.invalidPayload("'\(name)' must be a number and a unit (s, m, h, d, w), e.g. 7d; got '\(text)'.", param: name)
        }
        return date
    }

    /// A plain-text (or CSV, NDJSON) response.
    static func text(_ text: String, contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
