import AfterimageCore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A local OTLP/HTTP trace receiver for tests: `POST /v1/traces` with OTLP JSON bodies
/// (`tracing.protocol: http/json`); keeps every span it was sent.
public final class OTLPReceiver: Sendable {
    /// One received span; ids as lower-case hex.
    public struct Span: Sendable, Equatable {
        public var traceID: String
        public var spanID: String
        public var parentID: String?
        public var name: String
        /// OTLP kind: 1 internal, 2 server, 3 client.
        public var kind: Int
        /// String, integer and number attributes, as text.
        public var attributes: [String: String]
        /// OTLP status code: 0 unset, 1 ok, 2 error.
        public var statusCode: Int
    }

    private let spans = Mutex<[Span]>([])
    private let server = LocalServer()

    public init() {}

    public var baseURL: String { "http://127.0.0.1:\(server.port)" }
    public var received: [Span] { spans.withLock { $0 } }

    public func start() async throws {
        let router = Router()
        router.post("v1/traces") { request, _ in
            let body = try await request.body.collect(upTo: 64 << 20)
            let parsed = try Self.parse(JSONParser.parse(Data(buffer: body)))
            self.spans.withLock { $0.append(contentsOf: parsed) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        await server.start(router, label: "otlp-receiver")
    }

    public func stop() async {
        await server.stop()
    }

    /// The spans of an OTLP JSON `ExportTraceServiceRequest`.
    static func parse(_ body: JSONValue) throws -> [Span] {
        var found = [Span]()
        for resource in body["resourceSpans"]?.arrayValue ?? [] {
            for scope in resource["scopeSpans"]?.arrayValue ?? [] {
                for span in scope["spans"]?.arrayValue ?? [] {
                    var attributes = [String: String]()
                    for attribute in span["attributes"]?.arrayValue ?? [] {
                        guard let key = attribute["key"]?.stringValue, let value = attribute["value"]?.objectValue?.values.first else { continue }
                        attributes[key] = value.stringValue ?? value.integerValue.map(String.init) ?? value.doubleValue.map { "\($0)" } ?? "\(value)"
                    }
                    let parent = span["parentSpanId"]?.stringValue.flatMap { $0.isEmpty ? nil : hex($0) }
                    found.append(Span(
                        traceID: hex(span["traceId"]?.stringValue ?? ""), spanID: hex(span["spanId"]?.stringValue ?? ""), parentID: parent,
                        name: span["name"]?.stringValue ?? "", kind: kind(span["kind"]), attributes: attributes,
                        statusCode: kind(span["status"]?["code"])
                    ))
                }
            }
        }
        return found
    }

    /// OTLP JSON writes ids as hex; protobuf's generic JSON mapping as base64. Either, as hex.
    static func hex(_ text: String) -> String {
        if text.count % 2 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        guard let bytes = Data(base64Encoded: text) else { return text }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// An enum written as its number or its name (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`).
    static func kind(_ value: JSONValue?) -> Int {
        if let number = value?.integerValue { return Int(number) }
        switch value?.stringValue ?? "" {
        case "SPAN_KIND_INTERNAL", "STATUS_CODE_OK": return 1
        case "SPAN_KIND_SERVER", "STATUS_CODE_ERROR": return 2
        case "SPAN_KIND_CLIENT": return 3
        default: return 0
        }
    }
}
