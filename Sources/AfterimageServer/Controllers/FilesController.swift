import AfterimageCore
import Foundation
import Hummingbird

/// `GET /v1/images/files/{id}.{ext}?expires=…&sig=…`: stored images behind HMAC-signed,
/// expiring URLs. The signature is the credential (like a pre-signed URL), so no API key is needed.
struct FilesController: Sendable {
    let blobs: any BlobStore
    let signer: URLSigner

    func serve(_ request: Request, context: AfterimageRequestContext) async throws -> Response {
        let fileName = context.parameters.get("file") ?? ""
        let query = request.uri.queryParameters
        do {
            try signer.verify(fileName: fileName, expires: query["expires"].map(String.init), signature: query["sig"].map(String.init))
        } catch .invalidSignature {
            throw AfterimageError(status: 403, code: .invalidSignature, message: "The image URL's signature is invalid.")
        } catch .expired {
            throw AfterimageError(status: 410, code: .expired, message: "The image URL has expired; request the image again for a fresh URL.")
        }
        let parts = fileName.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let format = ImageFormat(fileExtension: String(parts[1])),
              let (image, data) = try await blobs.get(id: String(parts[0])), image.format == format
        else {
            throw AfterimageError.notFound("No such image file.")
        }
        let etag = "\"\(image.id)\""
        var headers: HTTPFields = [
            .contentType: image.format.contentType,
            .eTag: etag,
            .cacheControl: "private, max-age=\(max(0, Int(query["expires"].flatMap { Double(String($0)) } ?? 0) - Int(Date().timeIntervalSince1970))), immutable",
        ]
        if request.headers[.ifNoneMatch] == etag {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(data.count)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
