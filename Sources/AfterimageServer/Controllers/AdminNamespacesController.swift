import AfterimageCore
import Foundation
import Hummingbird

/// `/admin/namespaces`: spend budgets and rate limits shared by every key of a namespace.
struct AdminNamespacesController: Sendable {
    let store: any NamespaceLimitStore

    func addRoutes(to group: RouterGroup<AfterimageRequestContext>) {
        group.get("namespaces") { request, _ in
            let list = try await store.list()
            return JSONResponse.make(.object(["object": "list", "data": .array(list.map { Self.json($0.namespace, $0.limits) })]))
        }
        group.get("namespaces/:namespace") { request, context in
            let namespace = try AdminRequest.requiredPathParameter(context, "namespace")
            return JSONResponse.make(Self.json(namespace, try await store.limits(namespace: namespace)))
        }
        for method in [HTTPRequest.Method.put, .patch] {
            group.on("namespaces/:namespace", method: method) { request, context in
                let namespace = try AdminRequest.requiredPathParameter(context, "namespace")
                let body = try await AdminRequest.jsonObject(request)
                let limits = try await store.update(namespace: namespace, changes: try LimitChanges.parse(body))
                return JSONResponse.make(Self.json(namespace, limits))
            }
        }
    }

    static func json(_ namespace: String, _ limits: SpendLimits) -> JSONValue {
        var object = limits.json.objectValue ?? [:]
        object["object"] = "namespace"
        object["namespace"] = .string(namespace)
        return .object(object)
    }
}
