import AfterimageCore
import Foundation
import NIOFoundationCompat
import Hummingbird
import Logging
import MultipartKit
import ServiceLifecycle
import Synchronization

/// A real HTTP server on port 0 that behaves like the OpenAI image API, for tests: deterministic
/// PNGs per prompt at the requested size, `url` answers that expire, `usage` blocks for GPT image
/// models, multipart edits, and injected faults. It counts what it served.
public final class StubUpstream: Sendable {
    /// A fault served instead of (or before) the normal answer, consumed once.
    public struct Fault: Sendable {
        public var status: Int?
        public var retryAfter: String?
        public var message: String?
        public var code: String?
        public var delay: Duration?
        /// Close the connection mid-answer.
        public var drop: Bool
        /// Streams only: close the connection after this many partial images.
        public var breakStreamAfter: Int?
        /// Streams only: send an `error` event instead of the completed one.
        public var streamError: Bool
        /// A hostile answer: this exact body (status `status` or 200), instead of the normal one.
        public var body: Data?
        /// Rewrites the normal JSON answer before it is sent (hostile usage, sizes, URLs…).
        public var rewrite: (@Sendable ([String: JSONValue]) -> [String: JSONValue])?

        public init(
            status: Int? = nil, retryAfter: String? = nil, message: String? = nil, code: String? = nil, delay: Duration? = nil, drop: Bool = false,
            breakStreamAfter: Int? = nil, streamError: Bool = false
        ) {
            self.status = status
            self.retryAfter = retryAfter
            self.message = message
            self.code = code
            self.delay = delay
            self.drop = drop
            self.breakStreamAfter = breakStreamAfter
            self.streamError = streamError
        }

        /// Answers with `body` as JSON (status 200 unless given).
        public static func answer(_ body: Data, status: Int? = nil) -> Fault {
            var fault = Fault(status: status)
            fault.body = body
            return fault
        }

        /// The normal answer, changed by `rewrite` before it is sent.
        public static func rewrite(_ change: @escaping @Sendable ([String: JSONValue]) -> [String: JSONValue]) -> Fault {
            var fault = Fault()
            fault.rewrite = change
            return fault
        }

        public static func status(_ status: Int, retryAfter: String? = nil, message: String? = nil, code: String? = nil) -> Fault {
            Fault(status: status, retryAfter: retryAfter, message: message, code: code)
        }
        public static let drop = Fault(drop: true)
        public static func delay(_ delay: Duration) -> Fault { Fault(delay: delay) }
    }

    /// One request as the stub received it.
    public struct Received: Sendable {
        public var path: String
        public var authorization: String?
        public var contentType: String?
        /// JSON body fields (generations) or text fields (edits).
        public var fields: [String: JSONValue]
        /// Edit files: field name, file name, content type, bytes.
        public var files: [(name: String, filename: String, contentType: String?, data: Data)]
        /// Every header name received, lower-cased.
        public var headerNames: [String]
        /// The W3C `traceparent` header, if sent.
        public var traceparent: String?
        /// When the request arrived (its body read).
        public var receivedAt = ContinuousClock.now
    }

    struct State {
        var faults: [String: [Fault]] = [:]
        var received: [Received] = []
        var served = 0
        var files: [String: (data: Data, expires: Date)] = [:]
        var fileDownloads = 0
        var fileRequests = 0
        var sendsUsage = true
        var streamGap: Duration = .milliseconds(30)
        /// Streams wait after their first event while set (`holdStreamsAfterFirstEvent`).
        var holdingStreams = false
    }

    let state = Mutex(State())
    /// How long `url` answers stay downloadable.
    public let urlLifetime: Duration
    private let server = LocalServer()

    public init(urlLifetime: Duration = .seconds(3600)) {
        self.urlLifetime = urlLifetime
    }

    /// `http://127.0.0.1:PORT/v1`.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    public var port: Int { server.port }

    /// Requests answered on the image endpoints (faults included).
    public var servedCount: Int { state.withLock { $0.served } }
    /// Every image-endpoint request received, in order.
    public var received: [Received] { state.withLock { $0.received } }
    /// Image URL downloads answered with the image.
    public var fileDownloads: Int { state.withLock { $0.fileDownloads } }
    /// Every request to its file, redirect and oversized routes, answered or not.
    public var fileRequests: Int { state.withLock { $0.fileRequests } }
    /// A URL on this stub that redirects (302) to `location`.
    public func redirectURL(to location: String) -> String {
        "http://127.0.0.1:\(port)/redirect?to=" + (location.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
    }
    /// A URL on this stub that declares a 2 GB image and sends a few bytes.
    public var hugeImageURL: String { "http://127.0.0.1:\(port)/huge.png" }
    /// A URL of a real image on this stub (its own host).
    public func imageURL(width: Int = 64, height: Int = 64) -> String {
        let png = TestImages.png(width: width, height: height, seed: "url-\(width)x\(height)")
        let name = png.sha256Hex + ".png"
        state.withLock { $0.files[name] = (png, .distantFuture) }
        return "http://127.0.0.1:\(port)/files/\(name)"
    }

    /// Queues faults for the next requests to `model` (or to any model with `"*"`).
    public func inject(_ faults: [Fault], model: String = "*") {
        state.withLock { $0.faults[model, default: []].append(contentsOf: faults) }
    }

    /// Makes every issued image URL stop working now.
    /// Pause between streamed events (default 30 ms).
    public func setStreamGap(_ gap: Duration) {
        state.withLock { $0.streamGap = gap }
    }

    /// While on, every stream stops after its first event until it is turned off (at most 60 s):
    /// a test can hang up mid-stream deterministically, however loaded the machine is.
    public func holdStreamsAfterFirstEvent(_ on: Bool) {
        state.withLock { $0.holdingStreams = on }
    }

    /// Whether GPT image answers carry a `usage` block (default true).
    public func sendUsage(_ on: Bool) {
        state.withLock { $0.sendsUsage = on }
    }

    public func expireAllURLs() {
        state.withLock { state in
            for key in state.files.keys { state.files[key]?.expires = .distantPast }
        }
    }

    /// Starts listening on 127.0.0.1, port 0.
    public func start() async throws {
        let router = Router()
        router.post("v1/images/generations") { request, _ in try await self.generations(request) }
        router.post("v1/images/edits") { request, _ in try await self.edits(request) }
        router.post("v1/embeddings") { request, _ in try await self.embeddings(request) }
        router.get("files/:name") { _, context in try self.file(context.parameters.get("name") ?? "") }
        router.get("redirect") { request, _ in
            self.state.withLock { $0.fileRequests += 1 }
            return Response(status: .found, headers: [.location: request.uri.queryParameters.get("to") ?? "/"])
        }
        router.get("huge.png") { _, _ in
            self.state.withLock { $0.fileRequests += 1 }
            return Response(
                status: .ok, headers: [.contentType: "image/png", .contentLength: "2147483648"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(bytes: TestImages.png(width: 8, height: 8, seed: "huge").prefix(64)))
                    throw CancellationError()
                }
            )
        }
        await server.start(router, label: "stub-upstream")
    }

    /// Stops the server gracefully.
    public func stop() async {
        await server.stop()
    }

    // MARK: Handlers

    func nextFault(model: String) -> Fault? {
        state.withLock { state in
            for key in [model, "*"] where !(state.faults[key]?.isEmpty ?? true) {
                return state.faults[key]!.removeFirst()
            }
            return nil
        }
    }

    func generations(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 << 20)
        let fields = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)))?.objectValue ?? [:]
        record(request, path: "generations", fields: fields, files: [])
        return try await answer(fields: fields, inputSize: nil, event: "generation")
    }

    func edits(_ request: Request) async throws -> Response {
        let contentType = request.headers[.contentType] ?? ""
        guard let boundary = contentType.components(separatedBy: "boundary=").last, contentType.contains("multipart/form-data") else {
            return Self.error(400, "Expected multipart/form-data.", code: "invalid_request")
        }
        let body = try await request.body.collect(upTo: 64 << 20)
        let parts = try FormParts.parse(Data(buffer: body), boundary: boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        var fields = [String: JSONValue]()
        var files: [(name: String, filename: String, contentType: String?, data: Data)] = []
        for part in parts {
            if let filename = part.filename {
                files.append((part.name, filename, part.contentType, part.data))
            } else {
                fields[part.name] = .string(String(decoding: part.data, as: UTF8.self))
            }
        }
        record(request, path: "edits", fields: fields, files: files)
        for file in files where !["image/png", "image/jpeg", "image/webp"].contains(file.contentType ?? "") {
            return Self.error(400, "Invalid file '\(file.name)': unsupported mimetype ('\(file.contentType ?? "none")').", code: "invalid_value", param: file.name)
        }
        guard let first = files.first(where: { $0.name.hasPrefix("image") }), let info = ImageInfo.read(first.data) else {
            return Self.error(400, "Missing image.", code: "invalid_request", param: "image")
        }
        return try await answer(fields: fields, inputSize: info.dimensions, event: "edit")
    }

    func record(_ request: Request, path: String, fields: [String: JSONValue], files: [(name: String, filename: String, contentType: String?, data: Data)]) {
        let received = Received(
            path: path, authorization: request.headers[.authorization], contentType: request.headers[.contentType],
            fields: fields, files: files, headerNames: request.headers.map { $0.name.canonicalName },
            traceparent: request.headers.first { $0.name.canonicalName == "traceparent" }?.value
        )
        state.withLock {
            $0.received.append(received)
            $0.served += 1
        }
    }

    func answer(fields: [String: JSONValue], inputSize: ImageDimensions?, event: String) async throws -> Response {
        let model = fields["model"]?.stringValue ?? ""
        let fault = nextFault(model: model)
        if let fault {
            if let delay = fault.delay { try await Task.sleep(for: delay) }
            if let body = fault.body {
                var response = Response(status: .init(code: fault.status ?? 200), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
                if let retryAfter = fault.retryAfter { response.headers[.retryAfter] = retryAfter }
                return response
            }
            if fault.drop { return Self.dropped() }
            if let status = fault.status {
                var response = Self.error(status, fault.message ?? "Injected fault \(status).", code: fault.code)
                if let retryAfter = fault.retryAfter { response.headers[.retryAfter] = retryAfter }
                return response
            }
        }
        let isGPTImage = model.hasPrefix("gpt-image")
        if isGPTImage, fields["response_format"] != nil {
            return Self.error(400, "Unknown parameter: 'response_format'.", code: "unknown_parameter", param: "response_format")
        }
        if fields["stream"] == .bool(true) || fields["stream"]?.stringValue == "true" {
            return streamAnswer(fields: fields, inputSize: inputSize, event: event, fault: fault)
        }
        guard let prompt = fields["prompt"]?.stringValue ?? (fields["type"]?.stringValue == "background_removal" ? "" : nil) else {
            return Self.error(400, "Missing prompt.", code: "invalid_request", param: "prompt")
        }
        if prompt.contains("FORBIDDEN") {
            return Self.error(400, "Your request was rejected as a result of our safety system.", code: "content_policy_violation")
        }
        let n = Int(fields["n"]?.integerValue ?? 1)
        let requested = fields["size"]?.stringValue.flatMap(ModelCapability.parseSize)
        let size = requested ?? inputSize ?? ImageDimensions(width: 1024, height: 1024)
        let wantsURL = fields["response_format"]?.stringValue == "url"
        var data = [JSONValue]()
        for index in 0..<n {
            let png = TestImages.png(width: size.width, height: size.height, seed: "\(model)|\(prompt)|\(index)")
            var item = [String: JSONValue]()
            if wantsURL {
                let name = png.sha256Hex + ".png"
                let expires = Date().addingTimeInterval(Double(urlLifetime.components.seconds) + Double(urlLifetime.components.attoseconds) / 1e18)
                state.withLock { $0.files[name] = (png, expires) }
                item["url"] = .string("http://127.0.0.1:\(port)/files/\(name)")
            } else {
                item["b64_json"] = .string(png.base64EncodedString())
            }
            if model == "dall-e-3" { item["revised_prompt"] = .string("A detailed rendering of: \(prompt)") }
            data.append(.object(item))
        }
        var body: [String: JSONValue] = ["created": .integer(Int64(Date().timeIntervalSince1970)), "data": .array(data)]
        if isGPTImage {
            let textTokens = Int64(max(1, prompt.split(separator: " ").count))
            let imageTokens: Int64 = inputSize == nil ? 0 : 323
            if state.withLock({ $0.sendsUsage }) { body["usage"] = .object([
                "input_tokens": .integer(textTokens + imageTokens),
                "input_tokens_details": .object(["text_tokens": .integer(textTokens), "image_tokens": .integer(imageTokens)]),
                "output_tokens": .integer(Int64(1056 * n)),
                "total_tokens": .integer(textTokens + imageTokens + Int64(1056 * n)),
            ]) }
            body["size"] = .string("\(size.width)x\(size.height)")
            body["quality"] = .string(fields["quality"]?.stringValue ?? "medium")
            body["output_format"] = .string("png")
            body["background"] = .string("opaque")
        }
        if let rewrite = fault?.rewrite { body = rewrite(body) }
        let encoded = try JSONEncoder.afterimage.encode(JSONValue.object(body))
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: encoded)))
    }

    func file(_ name: String) throws -> Response {
        let entry = state.withLock { state -> (data: Data, expires: Date)? in
            state.fileRequests += 1
            guard let entry = state.files[name], entry.expires > Date() else { return nil }
            state.fileDownloads += 1
            return entry
        }
        guard let entry else {
            return Response(status: .forbidden, headers: [.contentType: "application/xml"], body: .init(byteBuffer: ByteBuffer(string: "<Error><Code>AuthenticationFailed</Code><Message>Signed expiry time has passed</Message></Error>")))
        }
        return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: entry.data)))
    }

    static func error(_ status: Int, _ message: String, code: String? = nil, param: String? = nil) -> Response {
        let body: JSONValue = .object(["error": .object([
            "message": .string(message),
            "type": .string(status == 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error"),
            "param": param.map(JSONValue.string) ?? .null,
            "code": code.map(JSONValue.string) ?? .null,
        ])])
        let data = (try? JSONEncoder.afterimage.encode(body)) ?? Data()
        return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Promises a long body, writes a little of it, then fails: the connection is closed mid-answer.
    static func dropped() -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/json", .contentLength: "100000"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "{\"created\":"))
                throw CancellationError()
            }
        )
    }
}

/// Minimal multipart/form-data reader for the stub (independent of the proxy's own parser).
enum FormParts {
    struct Part {
        var name: String
        var filename: String?
        var contentType: String?
        var data: Data
    }

    static func parse(_ body: Data, boundary: String) throws -> [Part] {
        let parser = MultipartParser(boundary: boundary)
        final class Box { var parts: [Part] = []; var headers: [(String, String)] = []; var data = Data() }
        let box = Box()
        parser.onHeader = { box.headers.append(($0.lowercased(), $1)) }
        parser.onBody = { box.data.append(contentsOf: $0.readableBytesView) }
        parser.onPartComplete = {
            let disposition = box.headers.first { $0.0 == "content-disposition" }?.1 ?? ""
            func parameter(_ key: String) -> String? {
                guard let range = disposition.range(of: "\(key)=\"") else { return nil }
                let rest = disposition[range.upperBound...]
                return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
            }
            box.parts.append(Part(
                name: parameter("name") ?? "", filename: parameter("filename"),
                contentType: box.headers.first { $0.0 == "content-type" }?.1, data: box.data
            ))
            box.headers = []
            box.data = Data()
        }
        try parser.execute([UInt8](body))
        return box.parts
    }
}
