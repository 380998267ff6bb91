import AfterimageCore
import Foundation
import Hummingbird
import NIOCore

extension StubUpstream {
    /// A streamed answer as the OpenAI API sends it: `partial_images` partial events, then one
    /// completed event per image (with `usage`); faults can break the stream or end it in an error.
    func streamAnswer(fields: [String: JSONValue], inputSize: ImageDimensions?, event: String, fault: Fault?) -> Response {
        let model = fields["model"]?.stringValue ?? ""
        let prompt = fields["prompt"]?.stringValue ?? ""
        let n = Int(fields["n"]?.integerValue ?? 1)
        let partials = Int(fields["partial_images"]?.integerValue ?? 0)
        let size = fields["size"]?.stringValue.flatMap(ModelCapability.parseSize) ?? inputSize ?? ImageDimensions(width: 1024, height: 1024)
        let quality = fields["quality"]?.stringValue ?? "medium"
        let prefix = "image_\(event)"
        let created = Int64(Date().timeIntervalSince1970)
        let (sendsUsage, gap) = state.withLock { ($0.sendsUsage, $0.streamGap) }
        @Sendable func common(_ png: Data) -> [String: JSONValue] {
            ["b64_json": .string(png.base64EncodedString()), "created_at": .integer(created), "size": .string("\(size.width)x\(size.height)"),
             "quality": .string(quality), "background": "opaque", "output_format": "png"]
        }
        let body = ResponseBody { writer in
            for index in 0..<partials {
                if fault?.breakStreamAfter == index { throw CancellationError() }
                try await Task.sleep(for: gap)
                var data = common(TestImages.png(width: 64, height: 64, seed: "partial|\(prompt)|\(index)"))
                data["type"] = .string("\(prefix).partial_image")
                data["partial_image_index"] = .integer(Int64(index))
                try await writer.write(ByteBuffer(data: try Self.event("\(prefix).partial_image", data)))
                if index == 0 {
                    for _ in 0..<6_000 where self.state.withLock({ $0.holdingStreams }) { try await Task.sleep(for: .milliseconds(10)) }
                }
            }
            if fault?.breakStreamAfter == partials { throw CancellationError() }
            try await Task.sleep(for: gap)
            if fault?.streamError == true {
                let error: JSONValue = ["type": "error", "error": ["type": "server_error", "code": "server_error", "message": "Image generation failed.", "param": .null]]
                try await writer.write(ByteBuffer(data: try Self.event("error", error.objectValue ?? [:])))
                try await writer.finish(nil)
                return
            }
            for index in 0..<n {
                var data = common(TestImages.png(width: size.width, height: size.height, seed: "\(model)|\(prompt)|\(index)"))
                data["type"] = .string("\(prefix).completed")
                if sendsUsage {
                    let text = Int64(max(1, prompt.split(separator: " ").count))
                    data["usage"] = [
                        "input_tokens": .integer(text), "output_tokens": .integer(Int64(1056 + 100 * partials)), "total_tokens": .integer(text + Int64(1056 + 100 * partials)),
                        "input_tokens_details": ["text_tokens": .integer(text), "image_tokens": .integer(inputSize == nil ? 0 : 323)],
                    ]
                }
                try await writer.write(ByteBuffer(data: try Self.event("\(prefix).completed", data)))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    static func event(_ name: String, _ data: [String: JSONValue]) throws -> Data {
        var bytes = Data("event: \(name)\ndata: ".utf8)
        bytes.append(try JSONEncoder.afterimage.encode(JSONValue.object(data)))
        bytes.append(contentsOf: Array("\n\n".utf8))
        return bytes
    }
}
