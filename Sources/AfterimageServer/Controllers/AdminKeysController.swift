import AfterimageCore
import Foundation
import NIOFoundationCompat
import Hummingbird

/// `/admin/keys`: create, list, read, change, rotate and revoke virtual keys.
/// Every route needs `Authorization: Bearer <admin key>` (from `AFTERIMAGE_ADMIN_KEY`).
struct AdminKeysController: Sendable {
    let keys: any KeyStore

    func addRoutes(to group: RouterGroup<AfterimageRequestContext>) {
        group.get("keys") { request, _ in
            let list = try await keys.list()
            return JSONResponse.make(.object(["object": .string("list"), "data": .array(list.map(\.publicJSON))]))
        }
        group.post("keys") { request, _ in
            let body = try await AdminRequest.jsonObject(request, allowEmpty: true)
            guard let name = body["name"]?.stringValue, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw AfterimageError.invalidPayload("'name' is required.", param: "name")
            }
            let changes = try Self.changes(from: body)
            let secret = KeySecret.generate()
            let key = try await keys.create(
                name: name, namespace: changes.namespace, allowedModels: changes.allowedModels ?? nil,
                expiresAt: changes.expiresAt ?? nil, limits: { var l = SpendLimits(); changes.limits.apply(to: &l); return l }(), secret: secret
            )
            var json = key.publicJSON.objectValue ?? [:]
            json["key"] = .string(secret)
            return JSONResponse.make(.object(json), status: .created)
        }
        group.get("keys/:id") { request, context in
            return JSONResponse.make(try await found(keys.get(id: AdminRequest.pathParameter(context, "id") ?? "")).publicJSON)
        }
        group.patch("keys/:id") { request, context in
            let body = try await AdminRequest.jsonObject(request, allowEmpty: true)
            if let name = body["name"], name.stringValue?.isEmpty ?? true {
                throw AfterimageError.invalidPayload("'name' must be a non-empty string.", param: "name")
            }
            var changes = try Self.changes(from: body)
            changes.name = body["name"]?.stringValue
            return JSONResponse.make(try await found(keys.update(id: AdminRequest.pathParameter(context, "id") ?? "", changes: changes)).publicJSON)
        }
        group.delete("keys/:id") { request, context in
            return JSONResponse.make(try await found(keys.revoke(id: AdminRequest.pathParameter(context, "id") ?? "")).publicJSON)
        }
        group.post("keys/:id/rotate") { request, context in
            let secret = KeySecret.generate()
            let key = try await found(keys.rotate(id: AdminRequest.pathParameter(context, "id") ?? "", newSecret: secret))
            var json = key.publicJSON.objectValue ?? [:]
            json["key"] = .string(secret)
            return JSONResponse.make(.object(json))
        }
    }


    func found(_ key: VirtualKey?) throws -> VirtualKey {
        guard let key else { throw AfterimageError.notFound("No such key.") }
        return key
    }

    /// `namespace`, `models` and `expires_at` from a create or patch body.
    static func changes(from body: [String: JSONValue]) throws -> KeyChanges {
        var changes = KeyChanges()
        if let namespace = body["namespace"], namespace != .null {
            guard let value = namespace.stringValue, !value.isEmpty else {
                throw AfterimageError.invalidPayload("'namespace' must be a non-empty string.", param: "namespace")
            }
            changes.namespace = value
        }
        if let models = body["models"] {
            if models == .null {
                changes.allowedModels = .some(nil)
            } else if let list = models.arrayValue, list.allSatisfy({ $0.stringValue != nil }) {
                changes.allowedModels = .some(list.compactMap(\.stringValue))
            } else {
                throw AfterimageError.invalidPayload("'models' must be a list of model ids or null.", param: "models")
            }
        }
        if let expires = body["expires_at"] {
            if expires == .null {
                changes.expiresAt = .some(nil)
            } else if let text = expires.stringValue, let date = DateText.parse(text) {
                changes.expiresAt = .some(date)
            } else {
                throw AfterimageError.invalidPayload("'expires_at' must be YYYY-MM-DD, an ISO 8601 timestamp or null.", param: "expires_at")
            }
        }
        changes.limits = try LimitChanges.parse(body)
        return changes
    }
}
