import AfterimageCore
import AfterimagePostgres
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage bench replicas --database-url URL`: how long a cache entry written through one
/// replica takes to reach another replica's index (the change feed: NOTIFY, then a catch-up read).
struct BenchReplicas: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replicas", abstract: "Benchmark index catch-up between two PostgreSQL replicas.")

    @Option(help: "The PostgreSQL database (postgres://…); its cache table gets bench rows (purged after).") var databaseURL: String
    @Option(help: "Entries to write.") var entries = 200
    @Option(help: "Pause between writes, in milliseconds.") var gapMs = 20

    func run() async throws {
        let settings = PostgresSettings(url: databaseURL)
        let writer = try await Stores.openPostgres(settings, diskCache: nil, logger: .init(label: "bench-a"))
        let reader = try await Stores.openPostgres(settings, diskCache: nil, logger: .init(label: "bench-b"))
        guard let feed = reader.cacheChanges as? PostgresCacheChangeFeed else { throw ValidationError("not a PostgreSQL feed") }
        let listener = Task { try await feed.run() }
        defer { listener.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        var cursor = try await feed.position()
        let namespace = "bench-\(UUID().uuidString.prefix(8))"
        let written = WrittenTimes()
        let writes = Task {
            for index in 0..<entries {
                let now = Date()
                let begun = ContinuousClock.now
                let entry = CacheEntry(
                    namespace: namespace, partitionKey: "p", directKey: "\(index)", prompt: "bench \(index)", normalizedPrompt: "bench \(index)",
                    embedding: (0..<384).map { _ in Float.random(in: -1...1) }, embeddingModel: "bench", endpoint: .generations, provider: "openai",
                    model: "bench", response: [:], images: [], imageExtras: [], createdAt: now, expiresAt: now.addingTimeInterval(3600)
                )
                let (id, _) = try await writer.cache.insert(entry)
                await written.set(id, begun)
                try await Task.sleep(for: .milliseconds(gapMs))
            }
        }
        var delays = [Double]()
        let deadline = ContinuousClock.now + .seconds(60)
        while delays.count < entries, ContinuousClock.now < deadline {
            await feed.waitForChange(timeout: .milliseconds(500))
            let changes = try await feed.changes(after: cursor, gaps: [], limit: 1000) ?? []
            let seenAt = ContinuousClock.now
            for change in changes {
                cursor = max(cursor, change.seq)
                guard change.kind == .insert, change.ref.namespace == namespace else { continue }
                // The insert may be seen before its writer noted the time: wait for it.
                var writtenAt = await written.get(change.ref.id)
                while writtenAt == nil {
                    try await Task.sleep(for: .milliseconds(1))
                    writtenAt = await written.get(change.ref.id)
                }
                if let writtenAt { delays.append(max(0, Double((seenAt - writtenAt).components.attoseconds) / 1e15 + Double((seenAt - writtenAt).components.seconds) * 1000)) }
            }
        }
        try await writes.value
        _ = try await writer.cache.purge(CachePurgeFilter(namespace: namespace))
        delays.sort()
        guard !delays.isEmpty else { throw ValidationError("no change arrived") }
        print(String(
            format: "index catch-up between replicas: %d entries, from the start of the write on A to its vector read on B: median %.2f ms, p99 %.2f ms, max %.2f ms",
            delays.count, delays[delays.count / 2], delays[min(delays.count - 1, Int(Double(delays.count) * 0.99))], delays[delays.count - 1]
        ))
    }
}

/// When each bench entry's insert began.
actor WrittenTimes {
    private var times: [Int64: ContinuousClock.Instant] = [:]
    func set(_ id: Int64, _ time: ContinuousClock.Instant) { times[id] = time }
    func get(_ id: Int64) -> ContinuousClock.Instant? { times[id] }
}
