import AfterimageCore
import Foundation
import NIOFoundationCompat
import MultipartKit
import NIOCore
import NIOHTTP1

/// Builds `multipart/form-data` bodies for upstream edit calls.
public enum MultipartBody {
    /// A text field or a file of the form.
    public enum Part: Sendable, Equatable {
        case field(name: String, value: String)
        case file(name: String, filename: String, contentType: String, data: Data)
    }

    /// The encoded body and the boundary it uses.
    public static func encode(_ parts: [Part], boundary: String = "afterimage-" + KeySecret.randomBase62(24)) throws -> UpstreamBody {
        let multipartParts: [MultipartPart] = parts.map { part in
            var headers = HTTPHeaders()
            switch part {
            case .field(let name, let value):
                headers.add(name: "Content-Disposition", value: "form-data; name=\"\(escape(name))\"")
                return MultipartPart(headers: headers, body: ByteBuffer(string: value))
            case .file(let name, let filename, let contentType, let data):
                headers.add(name: "Content-Disposition", value: "form-data; name=\"\(escape(name))\"; filename=\"\(escape(filename))\"")
                headers.add(name: "Content-Type", value: contentType)
                return MultipartPart(headers: headers, body: ByteBuffer(bytes: data))
            }
        }
        var buffer = ByteBuffer()
        try MultipartSerializer().serialize(parts: multipartParts, boundary: boundary, into: &buffer)
        return .multipart(Data(buffer: buffer), boundary: boundary)
    }

    /// Quotes and line breaks cannot appear inside a quoted header parameter.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\"", with: "%22")
            .replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }
}
