import AfterimageCache
import AfterimageCore
import AfterimageEmbedding
import Foundation
import Synchronization
import Testing

/// The cache decisions of one request without a server: direct then semantic lookup, the
/// raise-only threshold, bypass, TTL choice, single-flight keys and a failing embedder.
@Suite struct CacheLookupTests {
    /// Cache rows in memory (the SQLite store's semantics for what the lookup uses).
    final class MemoryCacheStore: CacheStore {
        let rows = Mutex<[Int64: CacheEntry]>([:])
        let nextID = Mutex<Int64>(0)

        let ledgerRows = Mutex<[UsageRecord]>([])

        func insert(_ entry: CacheEntry, ledgerRow: UsageRecord?) async throws -> (id: Int64, replaced: CacheEntryRef?) {
            let id = nextID.withLock { $0 += 1; return $0 }
            let replaced = rows.withLock { rows -> CacheEntryRef? in
                let old = rows.first { $0.value.namespace == entry.namespace && $0.value.partitionKey == entry.partitionKey && $0.value.directKey == entry.directKey }
                if let old { rows[old.key] = nil }
                var stored = entry
                stored.id = id
                rows[id] = stored
                return old.map { CacheEntryRef(id: $0.key, namespace: $0.value.namespace, partitionKey: $0.value.partitionKey) }
            }
            if var ledgerRow {
                ledgerRow.cacheEntryID = id
                ledgerRows.withLock { $0.append(ledgerRow) }
            }
            return (id, replaced)
        }
        func insert(contentsOf entries: [CacheEntry]) async throws { for entry in entries { _ = try await insert(entry) } }
        func entries(after id: Int64, limit: Int) async throws -> [CacheEntry] {
            rows.withLock { Array($0.filter { $0.key > id }.sorted { $0.key < $1.key }.prefix(limit).map(\.value)) }
        }
        func findDirect(namespace: String, partitionKey: String, directKey: String, now: Date) async throws -> CacheEntry? {
            rows.withLock { $0.values.first { $0.namespace == namespace && $0.partitionKey == partitionKey && $0.directKey == directKey && $0.expiresAt > now } }
        }
        func get(id: Int64, now: Date) async throws -> CacheEntry? { rows.withLock { $0[id].flatMap { $0.expiresAt > now ? $0 : nil } } }
        let hits = Mutex<[CacheHit]>([])
        func recordHit(id: Int64, kind: CacheHitKind, at: Date) async throws { hits.withLock { $0.append(CacheHit(id: id, kind: kind, at: at)) } }
        func vectors(now: Date, after id: Int64, limit: Int) async throws -> [CacheVector] {
            rows.withLock {
                Array($0.values.filter { $0.id! > id }.sorted { $0.id! < $1.id! }.compactMap { e in
                    e.embedding.map { CacheVector(id: e.id!, namespace: e.namespace, partitionKey: e.partitionKey, embedding: $0) }
                }.prefix(limit))
            }
        }
        func totals(now: Date) async throws -> CacheTotals { rows.withLock { CacheTotals(entries: $0.count, bytes: 0) } }
        func evict(maxEntries: Int, maxBytes: Int, now: Date) async throws -> (deleted: [CacheEntryRef], remaining: CacheTotals) { ([], try await totals(now: now)) }
        func deleteExpired(now: Date) async throws -> [CacheEntryRef] { [] }
        func purge(_ filter: CachePurgeFilter) async throws -> [CacheEntryRef] { [] }
        func delete(id: Int64) async throws -> CacheEntryRef? {
            rows.withLock { rows in rows.removeValue(forKey: id).map { CacheEntryRef(id: id, namespace: $0.namespace, partitionKey: $0.partitionKey) } }
        }
        func stats(now: Date) async throws -> CacheStats { CacheStats() }
    }

    /// An embedder that always fails.
    struct BrokenEmbedder: Embedder {
        let modelID = "broken"
        let provider = "test"
        let dimension = 384
        func embed(_ texts: [String]) async throws -> [Embedding] { throw CocoaError(.featureUnsupported) }
    }

    static let vocabulary = try! GuardVocabulary.load(directory: FalseHitGuardTests.root.appendingPathComponent("Config/guard").path)
    static let model = ModelCapability(id: "gpt-image-1", provider: "openai", sizes: ["1024x1024"], maxN: 4, maxPromptLength: 1000, qualities: [], acceptsResponseFormat: false, supportsEdits: true)

    func cache(embedder: any Embedder = HashingEmbedder(), ttl: Int = 600) -> SemanticCache {
        var settings = CacheSettings()
        settings.ttlSeconds = ttl
        return SemanticCache(settings: settings, store: MemoryCacheStore(), embedder: embedder, vocabulary: Self.vocabulary)
    }

    func lookup(_ prompt: String, _ cache: SemanticCache?, controls: CacheControls = CacheControls(), tuned: TunedSettings = .init(threshold: 0.85, wordSimilarity: 0.75)) -> CacheLookup {
        let request = ImageRequest(endpoint: .generations, model: "gpt-image-1", prompt: prompt, fields: ["size": "1024x1024"], responseFormat: .b64JSON)
        return CacheLookup(request: request, model: Self.model, namespace: "ns", controls: controls, cache: cache, tuned: tuned)
    }

    /// Stores `prompt` as a miss would.
    func store(_ prompt: String, in cache: SemanticCache) async throws {
        let miss = lookup(prompt, cache)
        let vector = try await cache.embed(prompt)
        let now = Date()
        _ = try await cache.store(CacheEntry(
            namespace: miss.namespace, partitionKey: miss.partitionKey, directKey: miss.directKey, prompt: prompt, normalizedPrompt: miss.normalizedPrompt,
            embedding: vector.vector, embeddingModel: cache.embedder.modelID, endpoint: .generations, provider: "openai", model: "gpt-image-1",
            response: [:], images: [], imageExtras: [], createdAt: now, expiresAt: now.addingTimeInterval(TimeInterval(miss.ttlSeconds))
        ))
    }

    @Test func directThenSemanticThenMiss() async throws {
        let cache = cache()
        try await store("a copper kettle on a stove", in: cache)
        var direct = lookup("A copper kettle on a stove.", cache)
        #expect(try await direct.find() != nil && direct.debug.outcome == .direct)
        var semantic = lookup("Please generate an image of a copper kettle on a stove", cache)
        #expect(try await semantic.find() != nil && semantic.debug.outcome == .semantic && semantic.debug.similarity != nil)
        var refused = lookup("a steel kettle on a stove", cache, tuned: .init(threshold: 0.1, wordSimilarity: 0.75))
        #expect(try await refused.find() == nil && refused.debug.outcome == .miss)
        #expect(refused.debug.refusedBy?.isGuardRule == true && refused.debug.metricResult == "guard_refused")
    }

    /// A restart loads the index page by page (a page boundary included) and finds every entry.
    @Test func theIndexIsLoadedPageByPage() async throws {
        let cache = cache()
        let prompts = ["a copper kettle on a stove", "a lighthouse at dusk", "a red fox in the snow", "a paper boat on a puddle", "an owl on a branch"]
        for prompt in prompts { try await store(prompt, in: cache) }
        // Hostile sizes are clamped (0 and below → 1, above a store page → `maxVectorPage`).
        for pageSize in [1, 2, 5, 10_000, 0, -5, Int.max] {
            #expect(try await cache.loadIndex(pageSize: pageSize) == prompts.count)
            #expect(cache.indexedCount == prompts.count)
        }
        var semantic = lookup("Please generate an image of an owl on a branch", cache)
        #expect(try await semantic.find() != nil && semantic.debug.outcome == .semantic)
    }

    @Test func aHeaderMayRaiseTheThresholdButNeverLowerIt() {
        #expect(lookup("x", cache(), controls: CacheControls(threshold: 0.95)).threshold == 0.95)
        #expect(lookup("x", cache(), controls: CacheControls(threshold: 0.1)).threshold == 0.85)
        #expect(lookup("x", cache(), tuned: .init(threshold: 0.9, wordSimilarity: 0.75)).threshold == 0.9)
    }

    @Test func bypassTTLAndSingleFlightKeys() async throws {
        var skipped = lookup("a kettle", cache(), controls: CacheControls(skipLookup: true))
        #expect(try await skipped.find() == nil && skipped.debug.outcome == .bypass && skipped.shouldStore)
        var off = lookup("a kettle", nil)
        #expect(try await off.find() == nil && off.debug.outcome == .bypass && !off.shouldStore && off.flightKey == nil)
        #expect(lookup("a kettle", cache(), controls: CacheControls(noStore: true)).flightKey == nil)
        #expect(lookup("a kettle", cache()).flightKey == lookup("A kettle.", cache()).flightKey, "same normalised prompt, same flight")
        #expect(lookup("a kettle", cache(ttl: 600)).ttlSeconds == 600)
        #expect(lookup("a kettle", cache(ttl: 600), controls: CacheControls(ttlSeconds: 60)).ttlSeconds == 60)
    }

    @Test func aFailingEmbedderCostsTheSemanticLookupNotTheRequest() async throws {
        var broken = lookup("a kettle", cache(embedder: BrokenEmbedder()))
        #expect(try await broken.find() == nil)
        #expect(broken.debug.outcome == .miss && broken.debug.refusedBy == .embeddingFailed && broken.debug.metricResult == "miss")
        #expect(await broken.embeddingForStore() == nil)
    }

    /// Hits are counted off the response path in batches: a read of the counters (stats) writes the
    /// queued ones first, and without a read they are written within the batching delay.
    @Test func hitsAreWrittenInBatchesAndBeforeStatsAreRead() async throws {
        let store = MemoryCacheStore()
        let cache = SemanticCache(settings: CacheSettings(), store: store, embedder: HashingEmbedder(), vocabulary: Self.vocabulary)
        let now = Date()
        var entry = CacheEntry(
            namespace: "ns", partitionKey: "p", directKey: "d", prompt: "a kite", normalizedPrompt: "a kite", embedding: nil, embeddingModel: "m",
            endpoint: .generations, provider: "openai", model: "gpt-image-1", response: [:], images: [], imageExtras: [], createdAt: now, expiresAt: now.addingTimeInterval(60)
        )
        entry.id = 7
        for _ in 0..<3 { cache.recordHit(entry, kind: .direct) }
        cache.recordHit(entry, kind: .semantic)
        _ = try await cache.stats()
        #expect(store.hits.withLock { $0.map(\.kind) } == [.direct, .direct, .direct, .semantic])
        cache.recordHit(entry, kind: .direct)
        // Generous: on a loaded 2-core runner the delayed flush task may wait for a thread.
        let deadline = ContinuousClock.now + .seconds(30)
        while store.hits.withLock({ $0.count }) < 5, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(store.hits.withLock { $0.count } == 5)
        // An entry without an id (never stored) is not counted.
        entry.id = nil
        cache.recordHit(entry, kind: .direct)
        await cache.flushHits()
        #expect(store.hits.withLock { $0.count } == 5)
    }

    /// Decoded entries are remembered within bounds: an entry with a huge stored answer (a hostile
    /// upstream's) is never kept, and a flood of entries starts the memo over.
    @Test func entryMemoStaysBounded() {
        let memo = EntryMemo(capacity: 10, maxBytes: 1 << 20, maxEntryBytes: 64 << 10)
        let now = Date()
        func entry(_ id: Int64, response: [String: JSONValue] = [:]) -> CacheEntry {
            CacheEntry(
                id: id, namespace: "ns", partitionKey: "p", directKey: "d\(id)", prompt: "a kite", normalizedPrompt: "a kite", embedding: nil, embeddingModel: nil,
                endpoint: .generations, provider: "openai", model: "gpt-image-1", response: response, images: [], imageExtras: [], createdAt: now, expiresAt: now
            )
        }
        memo.put(entry(1, response: ["note": .string(String(repeating: "x", count: 1 << 20))]))
        #expect(memo.get(1) == nil, "an oversized entry is decoded each time instead")
        memo.put(entry(2, response: ["list": .array(Array(repeating: .string(String(repeating: "y", count: 1_000)), count: 10_000))]))
        #expect(memo.get(2) == nil)
        for id in 10..<100 { memo.put(entry(Int64(id))) }
        #expect(memo.count <= 10 && memo.get(99) != nil)
        memo.remove([99])
        #expect(memo.get(99) == nil)
        let clamped = EntryMemo(capacity: -1, maxBytes: 0, maxEntryBytes: -9)
        #expect(clamped.capacity == 1 && clamped.maxBytes == 1 && clamped.maxEntryBytes == 1)
    }
}
