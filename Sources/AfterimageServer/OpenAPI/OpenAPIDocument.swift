import AfterimageCore
import Foundation
import Yams

/// The OpenAPI 3.1 document of every route: `docs/openapi.yaml`, compiled into the binary (the
/// target embeds it through a link), served as JSON at `GET /openapi.json`. `OpenAPIDocumentTests`
/// compare its operations with the router's routes both ways, and a contract test runs
/// schemathesis from it against the live server.
public enum OpenAPIDocument {
    /// The document as written (YAML).
    public static var yaml: String { String(decoding: PackageResources.openapi_yaml, as: UTF8.self) }

    /// The document as JSON bytes; nil only if the embedded text is not a YAML mapping, which a
    /// test rules out.
    public static let json: Data? = {
        guard let value = try? jsonValue(), value.objectValue != nil else { return nil }
        return JSONWriter.data(value)
    }()

    /// The document as a `JSONValue` (YAML anchors and aliases expanded).
    public static func jsonValue() throws -> JSONValue {
        try JSONValue(yaml: Yams.load(yaml: yaml) as Any)
    }

    /// Every operation as `METHOD /path` (path parameters as `{name}`), e.g. `GET /admin/keys/{id}`.
    public static func operations() throws -> Set<String> {
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var found = Set<String>()
        for (path, item) in try jsonValue()["paths"]?.objectValue ?? [:] {
            for method in (item.objectValue ?? [:]).keys where methods.contains(method) {
                found.insert("\(method.uppercased()) \(path)")
            }
        }
        return found
    }
}

extension JSONValue {
    /// A value Yams loaded (mappings, sequences, strings, numbers, booleans, null); anything else
    /// (a timestamp, binary) as its text.
    init(yaml value: Any) throws {
        switch value {
        case let map as [String: Any]:
            self = .object(try map.mapValues { try JSONValue(yaml: $0) })
        case let map as [AnyHashable: Any]:
            var object = [String: JSONValue]()
            for (key, item) in map { object["\(key.base)"] = try JSONValue(yaml: item) }
            self = .object(object)
        case let list as [Any]:
            self = .array(try list.map { try JSONValue(yaml: $0) })
        case let text as String:
            self = .string(text)
        case let flag as Bool:
            self = .bool(flag)
        case let number as Int:
            self = .integer(Int64(number))
        case let number as Double:
            self = .number(number)
        case is NSNull:
            self = .null
        default:
            if Mirror(reflecting: value).displayStyle == .optional { self = .null } else { self = .string("\(value)") }
        }
    }
}
