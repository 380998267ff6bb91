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
        static let configuration = CommandConfiguration(abstract: "Set a namespace's budget and rate limits.", discussion: "EXAMPLES\n  afterimage namespaces update team-a --budget-usd 500 --budget-period month\n  afterimage namespaces update team-a --rpm 120 --images-per-minute 40\n  afterimage namespaces update team-a --budget-usd none")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Namespace.") var namespace: String
        @OptionGroup var limits: LimitOptions

        func run() async throws {
            let updated = try await Namespaces.store(options).update(namespace: namespace, changes: try limits.changes())
            try Keys.printJSON(updated.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List namespaces that have limits.",
            discussion: """
                EXAMPLES
                  afterimage namespaces list
                  afterimage namespaces list --output json
                """
        )
        @OptionGroup var options: ConfigOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let list = try await Namespaces.store(options).list()
            let objects: [JSONValue] = list.map { namespace, limits in
                var object = limits.json.objectValue ?? [:]
                object["namespace"] = .string(namespace)
                return .object(object)
            }
            let table = TextTable(
                header: ["namespace", "budget_usd", "budget_period", "rpm", "images_per_minute"],
                rows: list.map { namespace, limits in
                    [namespace, limits.budget?.usdString ?? "", limits.budgetPeriod.rawValue,
                     limits.requestsPerMinute.map(String.init) ?? "", limits.imagesPerMinute.map(String.init) ?? ""]
                }
            )
            output.emit(.array(objects), csv: table) { table.text }
        }
    }
}
