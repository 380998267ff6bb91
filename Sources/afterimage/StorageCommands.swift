import AfterimageCore
import AfterimagePostgres
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage storage …`: moving between backends.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage", abstract: "Storage backends: copy a SQLite data directory into PostgreSQL.",
        subcommands: [StorageMigrate.self]
    )
}

/// `afterimage storage migrate --from sqlite --to postgres`: copies `data_dir` into the database at
/// `storage.postgres.url` (or `AFTERIMAGE_DATABASE_URL`), then checks counts and the ledger total.
struct StorageMigrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy keys, limits, settings, labels, the ledger, images and cache entries from SQLite into PostgreSQL.",
        discussion: """
            Safe to run again: rows already copied are skipped. Stop the SQLite server first (its data
            directory must not change during the copy). Exits 1 when the target holds less than the source.

            Example:
              AFTERIMAGE_DATABASE_URL=postgres://afterimage@127.0.0.1:5432/afterimage \\
                afterimage storage migrate --from sqlite --to postgres --data-dir ./data
            """
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "Source backend (sqlite).") var from: String
    @Option(help: "Target backend (postgres).") var to: String
    @Option(help: "The SQLite data directory to copy (default: data_dir of the configuration).") var dataDir: String?
    @Option(help: "The target database URL (default: storage.postgres.url / AFTERIMAGE_DATABASE_URL).") var databaseURL: String?

    func run() async throws {
        guard from == "sqlite", to == "postgres" else {
            throw ValidationError("Only --from sqlite --to postgres is supported.")
        }
        var configuration = try options.load()
        if let dataDir { configuration.dataDirectory = dataDir }
        var settings = configuration.storage.postgres
        if let databaseURL { settings = PostgresSettingsEditor.with(url: databaseURL, base: settings) }
        guard let settings, !settings.url.isEmpty else {
            throw ValidationError("No target database: set storage.postgres.url, AFTERIMAGE_DATABASE_URL or --database-url.")
        }
        guard FileManager.default.fileExists(atPath: configuration.dataDirectoryURL.appendingPathComponent("afterimage.sqlite").path) else {
            throw ValidationError("No SQLite database in \(configuration.dataDirectoryURL.path).")
        }
        let source = try Stores.open(dataDirectory: configuration.dataDirectoryURL, lookupLogMaxRows: configuration.cache.lookupLogMaxRows)
        let target = try await Stores.openPostgres(settings, lookupLogMaxRows: configuration.cache.lookupLogMaxRows, diskCache: nil, logger: .init(label: "afterimage.migrate"))
        let bar = ProgressBar.forTerminal()
        let migration = try StorageMigration(from: source, to: target) { phase, done, total in bar.update(phase, done, total) }
        let (expected, copied) = try await migration.run()
        bar.finish()
        print("source: \(expected)")
        print("target: \(copied)")
        let problems = StorageMigration.shortfalls(source: expected, target: copied)
        if problems.isEmpty {
            print("migrate: complete; counts and the ledger total match")
        } else {
            for problem in problems { FileHandle.standardError.write(Data("migrate: \(problem)\n".utf8)) }
            throw ExitCode(1)
        }
    }
}

/// A `PostgresSettings` with another URL (keeping pool size and TLS).
enum PostgresSettingsEditor {
    static func with(url: String, base: PostgresSettings?) -> PostgresSettings {
        var settings = base ?? PostgresSettings(url: url)
        settings.url = url
        return settings
    }
}
