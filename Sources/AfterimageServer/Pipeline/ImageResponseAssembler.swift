import AfterimageCore
import AfterimageUpstream
import Foundation
import Logging

/// Turns a provider's success body into stored images and the client's answer: every image's
/// bytes are held by the proxy (URLs are downloaded at once, before they expire), then served in
/// the format the client asked for.
struct ImageResponseAssembler: Sendable {
    let upstream: any ImageUpstream
    let blobs: any BlobStore
    let signer: URLSigner
    let publicBaseURL: PublicBaseURL
    /// Scheme, private-network and size rules for image URLs; hosts come from each provider.
    let downloads: ImageDownloadPolicy
    let logger: Logger

    /// One image of the answer, stored.
    struct Output: Sendable {
        var image: StoredImage
        var data: Data
        /// The upstream item's other fields (e.g. `revised_prompt`).
        var extra: [String: JSONValue]
        /// The image's record is left to the cache entry's transaction (`BlobStore.put(_:info:deferRecord:)`).
        var recordPending = false
    }

    /// Parses the upstream body and stores its images. Throws 503 `upstream_unavailable` when the
    /// body or an image is unusable.
    /// `deferRecords`: a cache entry will be stored with these images, in whose transaction the
    /// records of new images are written (one commit fewer per miss).
    /// `persist` false: nothing will read the images back (no cache entry, a `b64_json` answer,
    /// e.g. `Cache-Control: no-store`) — they are checked and described but never written.
    func store(upstreamBody: Data, provider: ProviderEndpoint, expected: Int, deferRecords: Bool = false, persist: Bool = true) async throws -> (top: [String: JSONValue], outputs: [Output]) {
        guard let object = (try? JSONParser.parse(upstreamBody))?.objectValue else {
            throw AfterimageError.upstreamUnavailable("The upstream answered 200 without a usable 'data' list.")
        }
        return try await store(object: object, provider: provider, expected: expected, deferRecords: deferRecords, persist: persist)
    }

    /// Stores the images of an already decoded answer (`data` plus top-level fields). An answer
    /// with more images than the `expected` (the request's `n`) is refused, not stored.
    func store(object: [String: JSONValue], provider: ProviderEndpoint, expected: Int, deferRecords: Bool = false, persist: Bool = true) async throws -> (top: [String: JSONValue], outputs: [Output]) {
        guard let items = object["data"]?.arrayValue, !items.isEmpty else {
            throw AfterimageError.upstreamUnavailable("The upstream answered 200 without a usable 'data' list.")
        }
        guard items.count <= max(expected, 1) else {
            logger.warning("upstream answered more images than asked", metadata: ["asked": "\(expected)", "got": "\(items.count)", "provider": "\(provider.name)"])
            throw AfterimageError.upstreamUnavailable("The upstream answered \(items.count) images for a request of \(expected); the answer was refused.")
        }
        var policy = downloads
        policy.allowedHosts = provider.imageHosts
        let rules = policy
        var top = object
        top.removeValue(forKey: "data")
        // One image (the usual answer) without a child task.
        if items.count == 1 { return (top, [try await storeItem(items[0], index: 0, policy: rules, deferRecord: deferRecords, persist: persist)]) }
        let outputs = try await withThrowingTaskGroup(of: (Int, Output).self) { group in
            for (index, item) in items.enumerated() {
                group.addTask { (index, try await self.storeItem(item, index: index, policy: rules, deferRecord: deferRecords, persist: persist)) }
            }
            var results = [(Int, Output)]()
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return (top, outputs)
    }

    func storeItem(_ item: JSONValue, index: Int, policy: ImageDownloadPolicy, deferRecord: Bool, persist: Bool = true) async throws -> Output {
        guard var fields = item.objectValue else {
            throw AfterimageError.upstreamUnavailable("The upstream's data[\(index)] is not an object.")
        }
        let data: Data
        if let b64 = fields.removeValue(forKey: "b64_json")?.stringValue {
            guard b64.utf8.count <= policy.maxImageBytes / 3 * 4 + 4,
                  let decoded = Data(base64Encoded: b64, options: .ignoreUnknownCharacters), !decoded.isEmpty else {
                throw AfterimageError.upstreamUnavailable("The upstream's data[\(index)].b64_json is not valid base64.")
            }
            data = decoded
            fields.removeValue(forKey: "url")
        } else if let url = fields.removeValue(forKey: "url")?.stringValue {
            data = try await download(url, index: index, policy: policy)
        } else {
            throw AfterimageError.upstreamUnavailable("The upstream's data[\(index)] has neither b64_json nor url.")
        }
        guard let info = ImageInfo.read(data) else {
            throw AfterimageError.upstreamUnavailable("The upstream's image data[\(index)] is not a PNG, JPEG or WebP image.")
        }
        guard persist else {
            return Output(image: StoredImage(data: data, info: info), data: data, extra: fields)
        }
        let (image, pending) = try await blobs.put(data, info: info, deferRecord: deferRecord)
        return Output(image: image, data: data, extra: fields, recordPending: pending)
    }

    /// Downloads with a few quick retries (the URL is short-lived, so it is fetched at once); a
    /// URL the policy refuses, a non-2xx answer or an oversized image is not retried. The client
    /// only ever sees one generic message: the reason goes to the log (no oracle into the network).
    func download(_ url: String, index: Int, policy: ImageDownloadPolicy) async throws -> Data {
        var lastError: (any Error)?
        for attempt in 0..<3 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(200 * attempt)) }
            do {
                return try await upstream.download(url, policy: policy)
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as AddressGuard.Refused {
                lastError = error
                break
            } catch let error as DownloadError {
                lastError = error
                break
            } catch {
                lastError = error
            }
        }
        logger.warning("upstream image not fetched", metadata: [
            "index": "\(index)", "url": "\(LogText.bounded(url, 200))", "reason": "\(LogText.bounded(lastError.map { "\($0)" } ?? "unknown", 300))",
        ])
        throw AfterimageError.upstreamUnavailable("The upstream's image data[\(index)] could not be fetched.")
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
