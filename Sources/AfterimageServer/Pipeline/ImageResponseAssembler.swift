import AfterimageCore
import Foundation

/// Turns a provider's success body into stored images and the client's answer: every image's
/// bytes are held by the proxy (URLs are downloaded at once, before they expire), then served in
/// the format the client asked for.
struct ImageResponseAssembler: Sendable {
    let upstream: any ImageUpstream
    let blobs: any BlobStore
    let signer: URLSigner
    let publicBaseURL: PublicBaseURL

    /// One image of the answer, stored.
    struct Output: Sendable {
        var image: StoredImage
        var data: Data
        /// The upstream item's other fields (e.g. `revised_prompt`).
        var extra: [String: JSONValue]
    }

    /// Parses the upstream body and stores its images. Throws 503 `upstream_unavailable` when the
    /// body or an image is unusable.
    func store(upstreamBody: Data) async throws -> (top: [String: JSONValue], outputs: [Output]) {
        guard let object = (try? JSONDecoder().decode(JSONValue.self, from: upstreamBody))?.objectValue else {
            throw AfterimageError.upstreamUnavailable("The upstream answered 200 without a usable 'data' list.")
        }
        return try await store(object: object)
    }

    /// Stores the images of an already decoded answer (`data` plus top-level fields).
    func store(object: [String: JSONValue]) async throws -> (top: [String: JSONValue], outputs: [Output]) {
        guard let items = object["data"]?.arrayValue, !items.isEmpty else {
            throw AfterimageError.upstreamUnavailable("The upstream answered 200 without a usable 'data' list.")
        }
        let outputs = try await withThrowingTaskGroup(of: (Int, Output).self) { group in
            for (index, item) in items.enumerated() {
                group.addTask { (index, try await self.storeItem(item, index: index)) }
            }
            var results = [(Int, Output)]()
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var top = object
        top.removeValue(forKey: "data")
        return (top, outputs)
    }

    func storeItem(_ item: JSONValue, index: Int) async throws -> Output {
        guard var fields = item.objectValue else {
            throw AfterimageError.upstreamUnavailable("The upstream's data[\(index)] is not an object.")
        }
        let data: Data
        if let b64 = fields.removeValue(forKey: "b64_json")?.stringValue {
            guard let decoded = Data(base64Encoded: b64, options: .ignoreUnknownCharacters) else {
                throw AfterimageError.upstreamUnavailable("The upstream's data[\(index)].b64_json is not valid base64.")
            }
            data = decoded
            fields.removeValue(forKey: "url")
        } else if let url = fields.removeValue(forKey: "url")?.stringValue {
            data = try await download(url, index: index)
        } else {
            throw AfterimageError.upstreamUnavailable("The upstream's data[\(index)] has neither b64_json nor url.")
        }
        guard let info = ImageInfo.read(data) else {
            throw AfterimageError.upstreamUnavailable("The upstream's image data[\(index)] is not a PNG, JPEG or WebP image.")
        }
        let image = try await blobs.put(data, info: info)
        return Output(image: image, data: data, extra: fields)
    }

    /// Downloads with a few quick retries; the URL is short-lived, so it is fetched at once.
    func download(_ url: String, index: Int) async throws -> Data {
        var lastError: (any Error)?
        for attempt in 0..<3 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(200 * attempt)) }
            do {
                return try await upstream.download(url)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                lastError = error
            }
        }
        throw AfterimageError.upstreamUnavailable("Could not download the upstream's image data[\(index)]: \(lastError.map { "\($0)" } ?? "unknown error")")
    }

    /// The `data` list in the client's format.
    func render(_ outputs: [Output], format: ResponseFormat, now: Date = Date()) -> [JSONValue] {
        outputs.map { output in
            var item = output.extra
            switch format {
            case .b64JSON:
                item["b64_json"] = .string(output.data.base64EncodedString())
            case .url:
                item["url"] = .string(publicBaseURL.value + signer.signedPath(fileName: output.image.fileName, now: now))
            }
            return .object(item)
        }
    }
}
