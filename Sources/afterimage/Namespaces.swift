import AfterimageCore
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage namespaces …`: budgets and rate limits shared by a namespace's keys.
struct Namespaces: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Budgets and rate limits of namespaces.", subcommands: [Update.self, List.self])

    static func store(_ options: ConfigOptions) async throws -> any NamespaceLimitStore {
        try await Stores.open(options.load()).namespaceLimits
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a namespace's budget and rate limits.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Namespace.") var namespace: String
        @OptionGroup var limits: LimitOptions

        func run() async throws {
            let updated = try await Namespaces.store(options).update(namespace: namespace, changes: try limits.changes())
            try Keys.printJSON(updated.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List namespaces that have limits.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            for (namespace, limits) in try await Namespaces.store(options).list() {
                var object = limits.json.objectValue ?? [:]
                object["namespace"] = .string(namespace)
                try Keys.printJSON(.object(object))
            }
        }
    }
}
