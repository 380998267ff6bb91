import AfterimageCore
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage cache …`: cache quality and administration.
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Semantic cache tools.",
        subcommands: [CacheEval.self, CacheExplain.self, CacheRelate.self, CacheStatsCommand.self, CachePurge.self, CacheWhatIf.self, CacheLabel.self, CacheExportLabels.self, CacheSuggestThreshold.self, CacheSetThreshold.self]
    )

    /// The cache entries in the configured data directory (safe while the server runs: SQLite is
    /// the source of truth and the server never serves a row that is gone).
    static func store(_ options: ConfigOptions) async throws -> any CacheStore {
        try await Stores.open(options.load()).cache
    }
}

/// `afterimage cache stats`: entries, bytes and hits, overall and by namespace and model.
struct CacheStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Entries, bytes and hits by type, by namespace and model.",
        discussion: """
            EXAMPLES
              afterimage cache stats
              afterimage cache stats --output csv
            """
    )

    @OptionGroup var options: ConfigOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let stats = try await CacheCommand.store(options).stats(now: Date())
        func cells(_ scope: String, _ group: CacheStats.Group) -> [String] {
            [scope, group.name, "\(group.entries)", "\(group.bytes)", "\(group.directHits)", "\(group.semanticHits)", "\(group.misses)",
             group.hitRate.map { String(format: "%.4f", $0) } ?? ""]
        }
        let csv = TextTable(
            header: ["scope", "name", "entries", "bytes", "direct_hits", "semantic_hits", "misses", "hit_rate"],
            rows: [cells("total", stats.total)] + stats.byNamespace.map { cells("namespace", $0) } + stats.byModel.map { cells("model", $0) }
        )
        output.emit(stats.json, csv: csv) { Self.text(stats) }
    }

    static func text(_ stats: CacheStats) -> String {
        var out = ""
        func print(_ line: String) { out += line + "\n" }
        func row(_ name: String, _ cells: [String]) -> String {
            let widths = [8, 12, 8, 8, 8, 8]
            return name.padding(toLength: 24, withPad: " ", startingAt: 0)
                + zip(cells, widths).map { cell, width in " " + String(repeating: " ", count: max(0, width - cell.count)) + cell }.joined()
        }
        func line(_ name: String, _ group: CacheStats.Group) -> String {
            let rate = group.hitRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
            return row(name, ["\(group.entries)", "\(group.bytes)", "\(group.directHits)", "\(group.semanticHits)", "\(group.misses)", rate])
        }
        print(row("", ["entries", "bytes", "direct", "semantic", "misses", "hit rate"]))
        print(line("total", stats.total))
        for (title, groups) in [("namespace", stats.byNamespace), ("model", stats.byModel)] where !groups.isEmpty {
            print("\nby \(title)")
            for group in groups { print(line(group.name, group)) }
        }
        if stats.expiredEntries > 0 { print("\n\(stats.expiredEntries) expired entries await the sweeper (never served)") }
        return out
    }
}

/// `afterimage cache purge`: deletes entries by namespace, model and age (all of them without filters).
struct CachePurge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge",
        abstract: "Delete cache entries (all, or those matching every filter given). Safe while the server runs."
    )

    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this namespace.") var namespace: String?
    @Option(help: "Only entries answered by this model.") var model: String?
    @Option(help: "Only entries older than this, e.g. 90s, 15m, 12h, 7d, 2w.") var olderThan: String?

    func run() async throws {
        var filter = CachePurgeFilter(namespace: namespace, model: model)
        if let olderThan {
            guard let cutoff = AgeText.cutoff(olderThan) else {
                throw ValidationError("--older-than must be a number and a unit (s, m, h, d, w), e.g. 7d; got '\(olderThan)'")
            }
            filter.createdBefore = cutoff
        }
        let deleted = try await CacheCommand.store(options).purge(filter)
        print("deleted \(deleted.count) cache entr\(deleted.count == 1 ? "y" : "ies")")
    }
}
