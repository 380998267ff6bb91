import AfterimageCore
import Foundation

/// Copies one backend's contents into another (`afterimage storage migrate --from sqlite --to
/// postgres`): keys with their hashes, namespace limits, cache settings, labelled lookups, alert
/// claims, the ledger, images and cache entries with their embeddings — images before the entries
/// that name them. Every step skips what the target already holds, so it can run again; `verify`
/// compares counts and the ledger's total to the nano-dollar.
public struct StorageMigration: Sendable {
    let source: Stores
    let target: Stores
    let importer: any StoreImporter
    /// Called with a phase name, how far it got, and its total (when known).
    let progress: @Sendable (String, Int, Int?) -> Void
    let pageSize = 500

    public init(from source: Stores, to target: Stores, progress: @escaping @Sendable (String, Int, Int?) -> Void = { _, _, _ in }) throws {
        guard let importer = target.importer else {
            throw ConfigurationError(key: "storage.backend", problem: "the target of a migration must be postgres")
        }
        self.source = source
        self.target = target
        self.importer = importer
        self.progress = progress
    }

    /// Copies everything; returns both censuses (source, target).
    public func run() async throws -> (source: StoreCensus, target: StoreCensus) {
        let expected = try await source.census.census()
        let keys = try await source.keys.list()
        try await importer.importKeys(keys)
        progress("keys", keys.count, keys.count)
        let limits = try await source.namespaceLimits.list()
        try await importer.importNamespaceLimits(limits)
        progress("namespace limits", limits.count, limits.count)
        try await copySettings()
        let lookups = try await source.lookupLog.entries(namespace: nil, since: nil, limit: Int.max / 2)
        try await importer.importLookups(lookups.reversed())
        progress("lookup log", lookups.count, lookups.count)

        try await copyAlertClaims()

        var copied = 0
        try await source.ledger.export(from: .distantPast, to: .distantFuture, pageSize: pageSize) { page in
            try await importer.importLedger(page)
            copied += page.count
            progress("ledger", copied, expected.ledgerRows)
        }

        // Entries page by page; each page's images first (the target refuses an entry naming a
        // missing image).
        var after: Int64 = 0
        var entries = 0
        var imagesCopied = Set<String>()
        while true {
            let page = try await source.cache.entries(after: after, limit: pageSize)
            guard let last = page.last?.id else { break }
            for entry in page {
                for image in entry.images where !imagesCopied.contains(image.id) {
                    guard let (stored, data) = try await source.blobs.get(id: image.id) else {
                        throw MigrationError(description: "image \(image.id) named by cache entry \(entry.id ?? 0) is missing from the source")
                    }
                    _ = try await target.blobs.put(data, info: ImageInfo(format: stored.format, dimensions: ImageDimensions(width: stored.width, height: stored.height)))
                    imagesCopied.insert(image.id)
                }
            }
            try await target.cache.insert(contentsOf: page.map { var copy = $0; copy.id = nil; return copy })
            entries += page.count
            progress("cache entries", entries, expected.cacheEntries)
            after = last
        }
        return (expected, try await target.census.census())
    }

    /// Alert claims page by page: an alert sent before the move is not sent again after it.
    func copyAlertClaims() async throws {
        var after: String?
        var copied = 0
        while true {
            let page = try await source.alerts.claims(after: after, limit: pageSize)
            guard let last = page.last?.key else { break }
            try await importer.importAlertClaims(page)
            copied += page.count
            progress("alert claims", copied, nil)
            after = last
        }
    }

    /// Run-time cache settings: only scopes whose values differ are written (audited as the migration).
    func copySettings() async throws {
        let (_, wanted) = try await source.cacheSettings.load()
        let (_, present) = try await target.cacheSettings.load()
        for (scope, values) in wanted where present[scope] != values {
            _ = try await target.cacheSettings.update(scope, threshold: .some(values.threshold), wordSimilarity: .some(values.wordSimilarity), by: "storage migrate")
        }
        progress("cache settings", wanted.count, wanted.count)
    }

    /// What differs between the two censuses (empty when the copy is whole). The target may hold
    /// more than the source (it was not empty); it must never hold less. Images are not compared:
    /// only those a cache entry names are copied (the rest would be swept anyway).
    public static func shortfalls(source: StoreCensus, target: StoreCensus) -> [String] {
        var problems = [String]()
        func check(_ name: String, _ want: Int, _ have: Int) {
            if have < want { problems.append("\(name): \(want) in the source, \(have) in the target") }
        }
        check("keys", source.keys, target.keys)
        check("namespace limits", source.namespaceLimits, target.namespaceLimits)
        check("ledger rows", source.ledgerRows, target.ledgerRows)
        check("cache entries", source.cacheEntries, target.cacheEntries)
        check("cache settings", source.cacheSettings, target.cacheSettings)
        check("labelled lookups", source.labelledLookups, target.labelledLookups)
        if source.ledgerRows == target.ledgerRows, source.ledgerCostNanos != target.ledgerCostNanos {
            problems.append("ledger total: \(Money(nanos: source.ledgerCostNanos).usdString) in the source, \(Money(nanos: target.ledgerCostNanos).usdString) in the target")
        }
        return problems
    }

    public struct MigrationError: Error, CustomStringConvertible {
        public var description: String
    }
}
