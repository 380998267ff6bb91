import AfterimageCore
import AfterimageUpstream
import Foundation

/// What a streamed miss has seen so far: partial images forwarded, completed events held back
/// until they are stored and metered, and the failure, if any.
struct StreamCapture: Sendable {
    let prefix: String
    var parser = ServerSentEventParser()
    var partials = 0
    var completed: [[String: JSONValue]] = []
    var failure: AfterimageError?
    /// Bytes of completed events held back so far, and the most that may be (`streaming.max_capture_bytes`).
    var capturedBytes = 0
    let maxCaptureBytes: Int
    /// Completed images expected (the request's `n`); more are refused.
    let expectedImages: Int

    init(endpoint: ImageEndpoint, maxCaptureBytes: Int = 256 << 20, expectedImages: Int = 10) {
        prefix = ImagePipeline.eventPrefix(endpoint)
        self.maxCaptureBytes = maxCaptureBytes
        self.expectedImages = max(1, expectedImages)
    }

    /// Classifies an event; returns the bytes to forward now (partial images, unknown events) or
    /// nil for events held back (completed) or replaced (errors).
    mutating func take(_ event: ServerSentEvent) -> Data? {
        let object = (try? JSONParser.parse(Data(event.data.utf8)))?.objectValue
        let type = object?["type"]?.stringValue ?? event.event ?? ""
        if type.hasSuffix(".partial_image") {
            partials += 1
            return event.raw
        }
        if type.hasSuffix(".completed") {
            guard failure == nil else { return nil }
            capturedBytes += event.data.utf8.count
            if capturedBytes > maxCaptureBytes || completed.count >= expectedImages {
                failure = .upstreamUnavailable("The upstream's stream sent more completed images (or bytes) than this request can hold; it was refused.")
                completed.removeAll()
                return nil
            }
            if let object { completed.append(object) }
            return nil
        }
        if type == "error" || event.event == "error" {
            let error = object?["error"]
            failure = AfterimageError(
                status: 502, code: .upstream(error?["code"]?.stringValue),
                message: "The upstream failed mid-stream: \(LogText.bounded(error?["message"]?.stringValue ?? event.data, 500))",
                type: (error?["type"]?.stringValue).map { String($0.prefix(64)) } ?? "server_error"
            )
            return nil
        }
        return event.raw
    }

    /// The completed events as a non-streamed answer: their images as `data`, the last one's
    /// `created_at`, `size`, `quality`, `background`, `output_format` and `usage` on top.
    var answer: [String: JSONValue] {
        var top: [String: JSONValue] = ["data": .array(completed.map { .object(["b64_json": $0["b64_json"] ?? .null]) })]
        guard let last = completed.last else { return top }
        top["created"] = last["created_at"]
        for field in ["size", "quality", "background", "output_format", "usage"] where last[field] != nil { top[field] = last[field] }
        return top
    }

    /// The held-back completed events, unchanged but for `extra_fields` in the last one.
    func completedEvents(extraFields: JSONValue) throws -> Data {
        var bytes = Data()
        for (index, event) in completed.enumerated() {
            var data = event
            if index == completed.count - 1 { data["extra_fields"] = extraFields }
            let name = (data["type"]?.stringValue).map { $0.hasSuffix(".completed") ? $0 : "\(prefix).completed" } ?? "\(prefix).completed"
            bytes.append(ServerSentEvent.encode(event: name, data: JSONWriter.data(JSONValue.object(data))))
        }
        return bytes
    }

    /// An `error` event in the OpenAI shape.
    func errorEvent(_ error: AfterimageError) -> Data {
        let data: JSONValue = [
            "type": "error",
            "error": ["message": .string(error.message), "type": .string(error.errorType), "param": error.param.map(JSONValue.string) ?? .null, "code": .string(error.code.rawValue)],
        ]
        return ServerSentEvent.encode(event: "error", data: JSONWriter.data(data))
    }
}
