import AfterimageCore
import AfterimagePostgres
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage bench ledger`: durable usage-row throughput, one writer at a time vs many
/// concurrent requests sharing group commits (every row fsynced before `record` returns).
struct BenchLedger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Benchmark the usage ledger's durable writes.")

    @Option(help: "Rows per run.") var rows = 2000
    @Option(help: "Concurrent writers in the group-commit run.") var concurrency = 64
    @Option(help: "Also run against this PostgreSQL database (postgres://…), beside SQLite.") var databaseURL: String?

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-bench-ledger-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        print("SQLite (WAL, synchronous=FULL):")
        try await measure(try Stores.open(dataDirectory: directory).ledger)
        if let databaseURL {
            let stores = try await Stores.openPostgres(PostgresSettings(url: databaseURL), diskCache: nil, logger: .init(label: "bench"))
            print("PostgreSQL (\(PostgresSettings(url: databaseURL).redactedDescription)):")
            try await measure(stores.ledger)
        }
    }

    func measure(_ ledger: any UsageLedgerStore) async throws {
        func row(_ index: Int) -> UsageRecord {
            var record = UsageRecord(requestID: "req_\(UUID().uuidString)", createdAt: Date(), endpoint: .generations)
            record.keyID = "key_bench"
            record.namespace = "bench"
            record.modelUsed = "gpt-image-1"
            record.imageOutputTokens = 1056
            record.cost = Money(nanos: 42_265_000)
            record.cache = index % 3 == 0 ? .direct : .miss
            return record
        }
        let sequentialCount = max(1, rows / 10)
        var start = DispatchTime.now().uptimeNanoseconds
        for index in 0..<sequentialCount { try await ledger.record(row(index)) }
        let sequential = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(String(format: "one writer:        %6.0f rows/s (%d rows, %.2f ms per durable row)", Double(sequentialCount) / sequential, sequentialCount, sequential * 1000 / Double(sequentialCount)))

        start = DispatchTime.now().uptimeNanoseconds
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var times = [Double]()
                    for index in stride(from: worker, to: rows, by: concurrency) {
                        let begin = DispatchTime.now().uptimeNanoseconds
                        try await ledger.record(row(index))
                        times.append(Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e6)
                    }
                    return times
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }.sorted()
        }
        let concurrent = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(String(
            format: "%3d writers:       %6.0f rows/s (%d rows; per request: median %.2f ms, p99 %.2f ms) — %.1fx one writer",
            concurrency, Double(rows) / concurrent, rows, latencies[latencies.count / 2], latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))],
            (Double(rows) / concurrent) / (Double(sequentialCount) / sequential)
        ))
    }
}
