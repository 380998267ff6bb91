import AfterimageCache
import AfterimageCore
import AfterimageServer
import AfterimageEmbedding
import AfterimageIndex
import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `afterimage bench index`: vector-index lookup time by partition size, the cost of other
/// partitions, and startup load time from SQLite. Synthetic unit vectors; prints medians.
struct BenchIndex: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "Benchmark the vector index (lookups and startup load).")

    @Option(help: "Partition sizes to time lookups at, comma-separated.") var sizes = "10000,100000,1000000"
    @Option(help: "Vector dimension.") var dimension = 384
    @Option(help: "Timed lookups per size.") var queries = 200
    @Option(help: "Entries to store in SQLite and load as at startup (0 skips).") var load = 100_000
    @Option(help: "Also time the HNSW graph at these partition sizes (comma-separated; empty skips): build time, lookup and recall@1 against the exact scan on clustered vectors.")
    var ann = ""
    @Option(help: "Also measure the graph's recall@1 on MiniLM embeddings of this many generated prompts (0 skips; needs the model).")
    var real = 0
    @Option(help: "Model directory for --real.") var modelDir = MiniLMManifest.defaultDirectory
    @Option(help: "Embedding threads for --real (1–8; the graph is still built and searched on one).") var embedThreads = 1
    @Option(help: "Graph links per node (tuning; the index uses the default).") var m = HNSWGraph.Parameters().m
    @Option(help: "Graph candidates kept while inserting (tuning).") var efConstruction = HNSWGraph.Parameters().efConstruction
    @Option(help: "Graph candidates kept while searching (tuning).") var efSearch = HNSWGraph.Parameters().efSearch

    /// Bounds checked before any benchmark starts (not after minutes of scans).
    func validate() throws {
        guard (0...1_000_000).contains(real) else { throw ValidationError("--real must be 0–1000000") }
        guard (1...8).contains(embedThreads) else { throw ValidationError("--embed-threads must be 1–8") }
    }

    var graphParameters: HNSWGraph.Parameters { HNSWGraph.Parameters(m: m, efConstruction: efConstruction, efSearch: efSearch) }

    func run() async throws {
        BLASRuntime.setThreads(1)
        var generator = SplitMix64(seed: 42)
        let sizeList = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        print("BLAS: \(BLASRuntime.implementation.prefix(80)); dimension \(dimension); top-5 search, one thread")
        print("entries in partition   median ms   p99 ms   ns per entry")
        let queryVectors = (0..<16).map { _ in Self.unitVector(dimension, &generator) }
        var largest: VectorIndex?
        for size in sizeList {
            let index = VectorIndex(dimension: dimension, annMinEntries: 0)
            let partition = VectorIndex.PartitionID(namespace: "bench", partition: "p")
            for id in 0..<size { index.upsert(partition, id: Int64(id), vector: Self.unitVector(dimension, &generator)) }
            let times = Self.time(queries) { run in _ = index.search(partition, query: queryVectors[run % queryVectors.count], k: 5) }
            print(String(format: "%21d   %9.3f   %6.3f   %12.2f", size, times.median, times.p99, times.median * 1e6 / Double(size)))
            largest = index
        }
        if let largest, let biggest = sizeList.max() {
            // A small partition beside the biggest one: its cost must not depend on the neighbour.
            let small = VectorIndex.PartitionID(namespace: "bench", partition: "small")
            for id in 0..<1000 { largest.upsert(small, id: Int64(biggest + id), vector: Self.unitVector(dimension, &generator)) }
            let times = Self.time(queries) { run in _ = largest.search(small, query: queryVectors[run % queryVectors.count], k: 5) }
            print(String(format: "1000 beside %d others: median %.3f ms", biggest, times.median))
        }
        let annSizes = ann.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        if !annSizes.isEmpty { benchGraph(annSizes, &generator) }
        if real > 0 { try await benchRealEmbeddings(real, modelDirectory: modelDir) }
        if load > 0 { try await benchLoad(&generator) }
    }

    /// HNSW against the exact scan on clustered unit vectors (1,000 centres): build time, lookup
    /// median and p99 (graph candidates re-ranked exactly against the float32 vectors, as the cache
    /// does with the stored ones), recall@1, and the memory the graph holds.
    func benchGraph(_ sizes: [Int], _ generator: inout SplitMix64) {
        let p = graphParameters
        print("\nHNSW (m \(p.m), ef construction \(p.efConstruction), ef search \(p.efSearch), layer-1 entry points \(p.entryEf), int8 codes only, exact re-rank of \(Neighbours.rerankDepth(5)) candidates) vs exact scan, clustered vectors, top-5")
        print("entries   build s   exact median ms   graph median ms   graph p99 ms   recall@1   graph MiB (resident)")
        let centres = (0..<1_000).map { _ in Self.unitVector(dimension, &generator) }
        func clustered(_ generator: inout SplitMix64) -> [Float] {
            let centre = centres[Int(generator.next() % UInt64(centres.count))]
            var vector = zip(centre, Self.unitVector(dimension, &generator)).map { $0 + $1 * 0.6 }
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in vector.indices { vector[i] /= norm }
            return vector
        }
        for size in sizes {
            let vectors = (0..<size).map { _ in clustered(&generator) }
            let queries = (0..<max(queries, 1)).map { _ in clustered(&generator) }
            var (build, graphed, resident) = Self.buildGraphed(vectors, parameters: graphParameters)
            let exact = Self.exactPartition(vectors)
            let row = Self.compare(exact: exact, graphed: graphed, vectors: vectors, queries: queries)
            print(String(
                format: "%7d   %7.1f   %15.3f   %15.3f   %12.3f   %8.4f   %6.0f (%.0f)",
                size, build, row.exactMedian, row.graphMedian, row.graphP99, row.recall, Double(graphed.approximateBytes) / 1_048_576, resident
            ))
            print("  recall@1 re-ranking more candidates / searching wider: \(row.deeper)")
            if let graph = graphed.graph { Self.benchSnapshot(graph, vectors: vectors) }
            // Last, into the partition itself: a copy would duplicate the whole graph on the first
            // insert (copy-on-write) inside the timed loop.
            let extra = (0..<2_000).map { _ in clustered(&generator) }
            let started = DispatchTime.now().uptimeNanoseconds
            for (offset, vector) in extra.enumerated() { graphed.upsert(id: Int64(size + offset), vector: vector) }
            print(String(format: "  online inserts into the built graph: %.0f µs each (2,000, one at a time)", Double(DispatchTime.now().uptimeNanoseconds - started) / 2_000 / 1_000))
        }
    }

    /// A restart with a snapshot instead of a build: writing the graph's file, reading and
    /// checking it, and reconciling it with every row (what a start does besides reading the rows).
    static func benchSnapshot(_ graph: HNSWGraph, vectors: [[Float]]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-bench-snapshot-\(getpid())", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = GraphSnapshotStore(directory: directory, identity: "bench")
        let partition = VectorIndex.PartitionID(namespace: "bench", partition: "p")
        do {
            var start = DispatchTime.now().uptimeNanoseconds
            try store.write(graph, for: partition)
            let written = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let bytes = (try? FileManager.default.attributesOfItem(atPath: store.url(for: partition).path)[.size] as? Int) ?? 0
            start = DispatchTime.now().uptimeNanoseconds
            let read = try GraphSnapshot.read(from: store.url(for: partition), identity: "bench", dimension: graph.dimension, parameters: graph.parameters)
            let readSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            start = DispatchTime.now().uptimeNanoseconds
            var restored = VectorPartition(dimension: graph.dimension, annMinEntries: 1, graphParameters: graph.parameters, buildsInline: false)
            restored.restore(read.graph)
            for (id, vector) in vectors.enumerated() { restored.upsert(id: Int64(id), vector: vector) }
            let dropped = restored.finishRestore()
            let reconciled = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            print(String(
                format: "  snapshot: %.0f MiB, written in %.2f s, read and checked in %.2f s, reconciled with %d rows in %.2f s (%d dropped, %d live)",
                Double(bytes) / 1_048_576, written, readSeconds, vectors.count, reconciled, dropped, restored.count
            ))
        } catch {
            print("  snapshot: failed: \(error)")
        }
    }

    /// A graph partition over `vectors` (the graph from the first 1,000 on, so no float32 rows pile
    /// up), its build time in seconds and the resident MiB it added (after returning freed memory).
    /// Returns freed heap memory to the system (glibc's `malloc_trim`, looked up at run time as
    /// Swift's Glibc module does not export `malloc.h`), so resident figures are what is held.
    static func returnFreedMemory() {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
    }

    static func buildGraphed(_ vectors: [[Float]], parameters: HNSWGraph.Parameters) -> (seconds: Double, partition: VectorPartition, residentMiB: Double) {
        returnFreedMemory()
        let before = BenchEmbed.residentMiB()
        // The rows first, then one build from them: what a start without a snapshot does (its
        // catch-up batch goes in the same `InsertionOrder`) and a partition reaching `ann_min_entries`.
        var graphed = VectorPartition(dimension: vectors[0].count, annMinEntries: min(1_000, vectors.count), graphParameters: parameters, buildsInline: false)
        for (id, vector) in vectors.enumerated() { graphed.upsert(id: Int64(id), vector: vector) }
        let loaded = DispatchTime.now().uptimeNanoseconds
        let source = graphed.beginBuild()
        graphed.finishBuild(VectorPartition.buildGraph(from: source, dimension: vectors[0].count, parameters: parameters))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - loaded) / 1e9
        returnFreedMemory()
        return (seconds, graphed, BenchEmbed.residentMiB() - before)
    }

    static func exactPartition(_ vectors: [[Float]]) -> VectorPartition {
        var exact = VectorPartition(dimension: vectors[0].count)
        for (id, vector) in vectors.enumerated() { exact.upsert(id: Int64(id), vector: vector) }
        return exact
    }

    /// Lookup times of both partitions (the graph's including its exact re-rank), recall@1, and
    /// recall@1 with deeper re-ranking and a wider search (where misses come from).
    static func compare(exact: VectorPartition, graphed: VectorPartition, vectors: [[Float]], queries: [[Float]])
        -> (exactMedian: Double, graphMedian: Double, graphP99: Double, recall: Double, deeper: String)
    {
        func viaGraph(_ query: [Float], k: Int, depth: Int? = nil, ef: Int? = nil, entryEf: Int? = nil) -> [(id: Int64, score: Float)] {
            let found = graphed.search(query, k: k, depth: depth, ef: ef, entryEf: entryEf)
            var subset = [Int64: [Float]](minimumCapacity: found.candidates.count)
            for id in found.ids { subset[id] = vectors[Int(id)] }
            return found.reranked(query: query, vectors: subset, k: k)
        }
        // The graph first: the exact scan's passes over every row (and its large temporary arrays)
        // would otherwise be what the graph's first queries find in the caches and the allocator.
        let graphTimes = time(queries.count) { run in _ = viaGraph(queries[run % queries.count], k: 5) }
        let exactTimes = time(queries.count) { run in _ = exact.search(queries[run % queries.count], k: 5) }
        let truth = queries.map { exact.search($0, k: 1).candidates.first?.id }
        func recall(depth: Int? = nil, ef: Int? = nil, entryEf: Int? = nil) -> Double {
            Double(zip(queries, truth).filter { viaGraph($0, k: 1, depth: depth, ef: ef, entryEf: entryEf).first?.id == $1 }.count) / Double(queries.count)
        }
        // Where the graph's best is not the exact best: how much less similar it is.
        var gaps = [Float]()
        for (query, best) in zip(queries, truth) {
            guard let found = viaGraph(query, k: 1).first, found.id != best, let best else { continue }
            gaps.append(vectors[Int(best)].indices.reduce(Float(0)) { $0 + vectors[Int(best)][$1] * query[$1] } - found.score)
        }
        var deeper = [(32, nil), (100, nil), (100, 200), (200, 400)].map { (depth: Int, ef: Int?) in
            String(format: "depth %d ef %@: %.4f", depth, ef.map(String.init) ?? "default", recall(depth: depth, ef: ef))
        }.joined(separator: ", ")
        for ef in [200, 400] {
            let times = time(queries.count) { run in _ = viaGraph(queries[run % queries.count], k: 5, ef: ef) }
            deeper += String(format: "; ef %d: median %.3f ms, p99 %.3f ms", ef, times.median, times.p99)
        }
        for entryEf in [1, 8] {
            let times = time(queries.count) { run in _ = viaGraph(queries[run % queries.count], k: 5, entryEf: entryEf) }
            deeper += String(format: "; layer-1 search ef %d: recall@1 %.4f, median %.3f ms, p99 %.3f ms", entryEf, recall(entryEf: entryEf), times.median, times.p99)
        }
        if !gaps.isEmpty {
            deeper += String(format: "; when the graph's best is not the exact best, its similarity is lower by median %.4f, max %.4f", gaps.sorted()[gaps.count / 2], gaps.max() ?? 0)
        }
        return (exactTimes.median, graphTimes.median, graphTimes.p99, recall(), deeper)
    }

    /// The graph on real vectors: MiniLM embeddings of `count` prompts from a seeded grammar
    /// (subjects, colours, places, styles, times, moods), queried with prompts from the same grammar
    /// that are not in the set; recall@1 and latency against the exact scan.
    func benchRealEmbeddings(_ count: Int, modelDirectory: String) async throws {
        let model = try MiniLMEmbedder(directory: modelDirectory, executor: EmbeddingExecutor(workers: embedThreads))
        let colours = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "grey", "golden", "pink", "teal"]
        let subjects = ["fox", "owl", "cat", "horse", "heron", "otter", "whale", "tiger", "rabbit", "deer", "lighthouse", "tram", "kettle",
                        "violin", "bicycle", "castle", "sailboat", "teapot", "robot", "dragon"]
        let places = ["forest", "desert", "harbour", "meadow", "library", "kitchen", "glacier", "canyon", "garden", "attic", "market", "rooftop",
                      "beach", "subway station", "mountain pass"]
        let styles = ["watercolour", "oil painting", "pencil sketch", "photo", "3d render", "pixel art", "ink drawing", "poster"]
        let times = ["at dawn", "at dusk", "at night", "in the rain", "in the snow", "at noon", "in fog", "under stars"]
        // Moods and lights from 200,000 prompts on (the grammar without them has 230,400 scenes).
        let moods = ["calm", "stormy", "joyful", "eerie", "cosy", "lonely", "vibrant", "misty", "dramatic", "serene"]
        let lights = ["soft light", "harsh light", "neon light", "candlelight", "backlight"]
        let rich = count > 200_000
        var generator = SplitMix64(seed: 0xBE4C_0001)
        func prompt() -> String {
            func pick(_ list: [String]) -> String { list[Int(generator.next() % UInt64(list.count))] }
            guard rich else { return "a \(pick(styles)) of a \(pick(colours)) \(pick(subjects)) in a \(pick(places)) \(pick(times))" }
            return "a \(pick(styles)) of a \(pick(moods)) \(pick(colours)) \(pick(subjects)) in a \(pick(places)) \(pick(times)), \(pick(lights))"
        }
        var seen = Set<String>()
        var texts = [String]()
        while texts.count < count, seen.count < 10_000_000 {
            let text = prompt()
            if seen.insert(text).inserted { texts.append(text) }
        }
        var queryTexts = [String]()
        while queryTexts.count < max(queries, 1) {
            let text = prompt()
            if seen.insert(text).inserted { queryTexts.append(text) }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        // Chunks of 256, `embedThreads` at a time, kept in order.
        var vectors = [[Float]]()
        vectors.reserveCapacity(texts.count)
        let chunks = Array(stride(from: 0, to: texts.count, by: 256))
        for wave in stride(from: 0, to: chunks.count, by: embedThreads) {
            let starts = chunks[wave..<min(wave + embedThreads, chunks.count)]
            let embedded = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
                for chunk in starts {
                    let slice = Array(texts[chunk..<min(chunk + 256, texts.count)])
                    group.addTask { (chunk, try await model.embed(slice).map(\.vector)) }
                }
                var parts = [(Int, [[Float]])]()
                for try await part in group { parts.append(part) }
                return parts.sorted { $0.0 < $1.0 }
            }
            for (_, part) in embedded { vectors += part }
            if vectors.count / 50_000 != (vectors.count - embedded.reduce(0) { $0 + $1.1.count }) / 50_000 {
                FileHandle.standardError.write(Data("embedded \(vectors.count) of \(texts.count)\n".utf8))
            }
        }
        let queryVectors = try await model.embed(queryTexts).map(\.vector)
        let embedSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let (build, graphed, resident) = Self.buildGraphed(vectors, parameters: graphParameters)
        let row = Self.compare(exact: Self.exactPartition(vectors), graphed: graphed, vectors: vectors, queries: queryVectors)
        print(String(
            format: "\nreal embeddings: %d generated prompts (embedded in %.0f s), %d unseen queries: exact median %.3f ms, graph median %.3f ms, p99 %.3f ms, recall@1 %.4f; graph built in %.1f s, %.0f MiB resident",
            vectors.count, embedSeconds, queryVectors.count, row.exactMedian, row.graphMedian, row.graphP99, row.recall, build, resident
        ))
        print("  recall@1 re-ranking more candidates / searching wider: \(row.deeper)")
    }

    /// Stores `load` entries in a temporary database, then times `SemanticCache.loadIndex()`.
    func benchLoad(_ generator: inout SplitMix64) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Stores.open(dataDirectory: directory).cache
        let now = Date()
        var batch = [CacheEntry]()
        for id in 0..<load {
            batch.append(CacheEntry(
                namespace: "ns\(id % 10)", partitionKey: "p\(id % 100)", directKey: "d\(id)", prompt: "prompt \(id)", normalizedPrompt: "prompt \(id)",
                embedding: Self.unitVector(dimension, &generator), embeddingModel: "bench", endpoint: .generations, provider: "bench", model: "bench",
                response: [:], images: [], imageExtras: [], createdAt: now, expiresAt: now.addingTimeInterval(86_400)
            ))
            if batch.count == 10_000 || id == load - 1 {
                try await store.insert(contentsOf: batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        let cache = SemanticCache(settings: CacheSettings(), store: store, embedder: HashingEmbedder(dimension: dimension), vocabulary: GuardVocabulary())
        var times = [Double]()
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            let loaded = try await cache.loadIndex()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            precondition(loaded == load)
        }
        times.sort()
        print(String(format: "startup load of %d entries from SQLite (100 partitions): median %.0f ms of 3", load, times[1]))
    }

    static func time(_ runs: Int, _ body: (Int) -> Void) -> (median: Double, p99: Double) {
        // Warm-up: one pass over (up to 100 of) the same queries first.
        for run in 0..<min(max(runs, 5), 100) { body(run) }
        var times = [Double]()
        for run in 0..<max(runs, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            body(run)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        return (times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.99))])
    }

    static func unitVector(_ dimension: Int, _ generator: inout SplitMix64) -> [Float] {
        var vector = (0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) }
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for i in vector.indices { vector[i] /= norm }
        return vector
    }
}

