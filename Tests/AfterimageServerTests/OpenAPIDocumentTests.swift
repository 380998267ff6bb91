import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import Testing

/// The OpenAPI document is the one description of the routes: every route the router has is in
/// it and every operation in it is a route; the server serves it; the repository's copy is the
/// one compiled in.
@Suite struct OpenAPIDocumentTests {
    @Test func theDocumentAndTheRouterListTheSameOperations() async throws {
        try await withFixture { f in
            let routes = Set(f.gateway.routes)
            let documented = try OpenAPIDocument.operations()
            #expect(routes.count > 25, "the router's routes were collected")
            let undocumented = routes.subtracting(documented).sorted()
            let missing = documented.subtracting(routes).sorted()
            #expect(undocumented.isEmpty, "routes the document lacks: \(undocumented)")
            #expect(missing.isEmpty, "documented operations with no route: \(missing)")
        }
    }

    @Test func theServerServesTheDocumentAsJSON() async throws {
        try await withFixture { f in
            let reply = try await f.get("/openapi.json")
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "content-type") == "application/json")
            #expect(reply.json == (try OpenAPIDocument.jsonValue()))
            #expect(reply.json["openapi"]?.stringValue == "3.1.0")
            // No key needed, and a key does not change it.
            let withKey = try await f.get("/openapi.json", headers: [("Authorization", "Bearer \(f.secret)")])
            #expect(withKey.body == reply.body)
        }
    }

    @Test func theRepositoryCopyIsTheCompiledDocument() throws {
        let file = TestGateway.packageRoot.appendingPathComponent("docs/openapi.yaml")
        #expect(try String(contentsOf: file, encoding: .utf8) == OpenAPIDocument.yaml)
    }

    /// Every `$ref` points at something, every error response is the envelope, and every
    /// operation names its security (none, the admin key or a virtual key).
    @Test func referencesResolveAndErrorsUseTheEnvelope() throws {
        let document = try OpenAPIDocument.jsonValue()
        var references = [String]()
        func collect(_ value: JSONValue) {
            switch value {
            case .object(let object):
                if let ref = object["$ref"]?.stringValue { references.append(ref) }
                object.values.forEach(collect)
            case .array(let list): list.forEach(collect)
            default: break
            }
        }
        collect(document)
        #expect(references.count > 100)
        for ref in Set(references) {
            #expect(ref.hasPrefix("#/"), "\(ref)")
            var node: JSONValue? = document
            for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
            #expect(node != nil && node != .null, "\(ref) resolves")
        }
        let responses = try #require(document["components"]?["responses"]?.objectValue)
        for (status, path, operation) in Self.operations(document) {
            #expect(operation["security"] != nil, "\(status) \(path) names its security")
            for (code, response) in operation["responses"]?.objectValue ?? [:] where code.hasPrefix("4") || code.hasPrefix("5") {
                let name = response["$ref"]?.stringValue?.split(separator: "/").last.map(String.init)
                let resolved = name.flatMap { responses[$0] } ?? response
                let schema = resolved["content"]?["application/json"]?["schema"]?["$ref"]?.stringValue
                if path == "/readyz" { continue }  // its 503 is the readiness body
                #expect(schema == "#/components/schemas/ErrorEnvelope", "\(status) \(path) \(code) is the error envelope")
            }
        }
    }

    static func operations(_ document: JSONValue) -> [(String, String, JSONValue)] {
        var found = [(String, String, JSONValue)]()
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            for (method, operation) in item.objectValue ?? [:] where method != "parameters" {
                found.append((method.uppercased(), path, operation))
            }
        }
        return found
    }
}
