import AfterimageCore
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage keys …`: manage virtual keys directly in the database (a running server sees
/// changes at once).
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, update, revoke and rotate virtual keys.",
        subcommands: [Create.self, List.self, Update.self, Revoke.self, Rotate.self]
    )

    static func store(_ options: ConfigOptions) async throws -> any KeyStore {
        try await Stores.open(options.load()).keys
    }

    /// A new secret, shown once: the key's JSON with `key` added, or `lines` as text.
    static func printSecret(of key: VirtualKey, _ secret: String, json: Bool, lines: [String]) throws {
        if json {
            var object = key.publicJSON.objectValue ?? [:]
            object["key"] = .string(secret)
            try printJSON(.object(object))
        } else {
            for line in lines { print(line) }
        }
    }

    static func printJSON(_ value: JSONValue) throws {
        let encoder = JSONEncoder.afterimage
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print its secret (shown only once).",
            discussion: """
                EXAMPLES
                  afterimage keys create --name analytics
                  afterimage keys create --name team-a-batch --namespace team-a --models gpt-image-1 --expires 2027-01-01
                  afterimage keys create --name capped --budget-usd 25 --budget-period week --rpm 60 --json
                """
        )
        @OptionGroup var options: ConfigOptions
        @Option(help: "Display name.") var name: String
        @Option(help: "Cache namespace (default: the key's own id).") var namespace: String?
        @Option(help: "Comma-separated model ids the key may use (default: all).") var models: String?
        @Option(help: "Expiry: YYYY-MM-DD (valid through that UTC day) or an ISO 8601 timestamp.") var expires: String?
        @OptionGroup var limits: LimitOptions
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let expires, DateText.parse(expires) == nil {
                throw ValidationError("--expires must be YYYY-MM-DD or an ISO 8601 timestamp, got '\(expires)'.")
            }
            if name.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--name must not be empty.") }
        }

        func run() async throws {
            let store = try await Keys.store(options)
            let secret = KeySecret.generate()
            let allowed = models.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let key = try await store.create(
                name: name, namespace: namespace, allowedModels: allowed, expiresAt: expires.flatMap(DateText.parse),
                limits: { var l = SpendLimits(); try limits.changes().apply(to: &l); return l }(), secret: secret
            )
            try Keys.printSecret(of: key, secret, json: json, lines: [
                "id:        \(key.id)", "name:      \(key.name)", "namespace: \(key.namespace)", "key:       \(secret)",
                "(store the key now: it is not shown again)",
            ])
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List keys (never their secrets).",
            discussion: """
                EXAMPLES
                  afterimage keys list
                  afterimage keys list --output csv > keys.csv
                  afterimage keys list --output json | jq '.[] | select(.status == "active") | .id'
                """
        )
        @OptionGroup var options: ConfigOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let keys = try await Keys.store(options).list()
            let table = TextTable(
                header: ["id", "prefix", "status", "namespace", "name", "budget_usd", "budget_period", "expires_at"],
                rows: keys.map { key in
                    [key.id, key.prefix, key.status(), key.namespace, key.name, key.limits.budget?.usdString ?? "",
                     key.limits.budgetPeriod.rawValue, key.expiresAt.map(DateText.format) ?? ""]
                }
            )
            output.emit(.array(keys.map(\.publicJSON)), csv: table) { table.text }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's name, namespace, models, expiry, budget or rate limits.", discussion: "EXAMPLES\n  afterimage keys update key_ABC --budget-usd 100 --budget-period month\n  afterimage keys update key_ABC --models gpt-image-1,dall-e-3 --expires 2027-06-30\n  afterimage keys update key_ABC --rpm none --json")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Key id.") var id: String
        @Option(help: "Display name.") var name: String?
        @Option(help: "Cache namespace.") var namespace: String?
        @Option(help: "Comma-separated model ids the key may use ('all' lifts the restriction).") var models: String?
        @Option(help: "Expiry: YYYY-MM-DD, an ISO 8601 timestamp, or 'never'.") var expires: String?
        @OptionGroup var limits: LimitOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            var changes = KeyChanges(name: name, namespace: namespace, limits: try limits.changes())
            if let models {
                changes.allowedModels = models == "all" ? .some(nil) : .some(models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            }
            if let expires {
                guard expires == "never" || DateText.parse(expires) != nil else {
                    throw ValidationError("--expires must be YYYY-MM-DD, an ISO 8601 timestamp or never, got '\(expires)'.")
                }
                changes.expiresAt = .some(DateText.parse(expires))
            }
            guard let key = try await Keys.store(options).update(id: id, changes: changes) else {
                throw ValidationError("No key with id '\(id)'.")
            }
            if json { try Keys.printJSON(key.publicJSON) } else { print("updated \(key.id) (\(key.name))") }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it stops working at once; its history stays.", discussion: "EXAMPLES\n  afterimage keys revoke key_ABC")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Key id.") var id: String

        func run() async throws {
            guard let key = try await Keys.store(options).revoke(id: id) else {
                throw ValidationError("No key with id '\(id)'.")
            }
            print("revoked \(key.id) (\(key.name))")
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a key a new secret, keeping its id and history.", discussion: "EXAMPLES\n  afterimage keys rotate key_ABC --json | jq -r .key")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "Key id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let secret = KeySecret.generate()
            guard let key = try await Keys.store(options).rotate(id: id, newSecret: secret) else {
                throw ValidationError("No key with id '\(id)'.")
            }
            try Keys.printSecret(of: key, secret, json: json, lines: ["id:  \(key.id)", "key: \(secret)", "(the old secret no longer works)"])
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
