import Foundation

/// One semantic lookup as the lookup log keeps it: the nearest candidate, the guard's verdict on
/// it, the decision and the threshold in force. Prompts are kept only where the namespace allows
/// (`keep_prompts`); otherwise only their SHA-256.
public struct LookupLogEntry: Sendable, Equatable {
    public var id: Int64?
    public var createdAt: Date
    public var requestID: String
    public var namespace: String
    public var model: String
    public var prompt: String?
    public var promptHash: String
    public var candidateID: Int64?
    public var candidatePrompt: String?
    public var candidateHash: String?
    /// Cosine of the nearest candidate (nil when the partition was empty).
    public var similarity: Float?
    /// The guard's refusal of the nearest candidate, or nil when it would allow it.
    public var refusedBy: GuardRefusal?
    /// Served (`semantic`) or not (`miss`).
    public var decision: LookupDecision
    public var threshold: Float
    /// What serving the candidate saves (its miss's cost).
    public var candidateCost: Money?
    /// An admin's judgement.
    public var label: LookupLabel?
    public var labelledBy: String?

    public init(
        id: Int64? = nil, createdAt: Date, requestID: String, namespace: String, model: String, prompt: String?, promptHash: String,
        candidateID: Int64?, candidatePrompt: String?, candidateHash: String?, similarity: Float?, refusedBy: GuardRefusal?,
        decision: LookupDecision, threshold: Float, candidateCost: Money?, label: LookupLabel? = nil, labelledBy: String? = nil
    ) {
        self.id = id
        self.createdAt = createdAt
        self.requestID = requestID
        self.namespace = namespace
        self.model = model
        self.prompt = prompt
        self.promptHash = promptHash
        self.candidateID = candidateID
        self.candidatePrompt = candidatePrompt
        self.candidateHash = candidateHash
        self.similarity = similarity
        self.refusedBy = refusedBy
        self.decision = decision
        self.threshold = threshold
        self.candidateCost = candidateCost
        self.label = label
        self.labelledBy = labelledBy
    }

    public var json: JSONValue {
        .object([
            "id": id.map(JSONValue.integer) ?? .null, "created_at": .string(DateText.format(createdAt)), "request_id": .string(requestID),
            "namespace": .string(namespace), "model": .string(model), "prompt": prompt.map(JSONValue.string) ?? .null,
            "prompt_sha256": .string(promptHash), "candidate_id": candidateID.map(JSONValue.integer) ?? .null,
            "candidate_prompt": candidatePrompt.map(JSONValue.string) ?? .null, "candidate_sha256": candidateHash.map(JSONValue.string) ?? .null,
            "similarity": similarity.map { .number((Double($0) * 1e6).rounded() / 1e6) } ?? .null,
            "guard": refusedBy.map { .string("refused:\($0.description)") } ?? (candidateID == nil ? .null : "allowed"),
            "decision": .string(decision.rawValue), "threshold": .number((Double(threshold) * 1e6).rounded() / 1e6),
            "candidate_cost_usd": candidateCost.map { .string($0.usdString) } ?? .null,
            "label": label.map { .string($0.rawValue) } ?? .null, "labelled_by": labelledBy.map(JSONValue.string) ?? .null,
        ])
    }
}

/// The bounded lookup log and its labels.
public protocol LookupLog: Sendable {
    /// Appends an entry, dropping the oldest beyond the configured size.
    func append(_ entry: LookupLogEntry) async throws
    /// Entries newest first, filtered by namespace and time.
    func entries(namespace: String?, since: Date?, limit: Int) async throws -> [LookupLogEntry]
    /// Labels an entry `same` or `different`; false if there is no such entry.
    func label(id: Int64, label: LookupLabel, by: String) async throws -> Bool
    /// Appends entries in order (one transaction where the store has one).
    func append(contentsOf entries: [LookupLogEntry]) async throws
}

extension LookupLog {
    public func append(contentsOf entries: [LookupLogEntry]) async throws {
        for entry in entries { try await append(entry) }
    }
}

/// A lookup log whose appends are queued and written in batches (`BatchedWriter`): a semantic
/// lookup never waits for its log row. Reads and labels write the queue first.
public final class BatchedLookupLog: LookupLog {
    public let base: any LookupLog
    let writer: BatchedWriter<LookupLogEntry>

    public init(_ base: any LookupLog) {
        self.base = base
        self.writer = BatchedWriter { try await base.append(contentsOf: $0) }
    }

    public func append(_ entry: LookupLogEntry) async throws { writer.enqueue(entry) }

    public func append(contentsOf entries: [LookupLogEntry]) async throws { for entry in entries { writer.enqueue(entry) } }

    public func entries(namespace: String?, since: Date?, limit: Int) async throws -> [LookupLogEntry] {
        await writer.flush()
        return try await base.entries(namespace: namespace, since: since, limit: limit)
    }

    public func label(id: Int64, label: LookupLabel, by: String) async throws -> Bool {
        await writer.flush()
        return try await base.label(id: id, label: label, by: by)
    }

    /// Writes queued rows now (shutdown).
    public func flush() async { await writer.flush() }
}

/// A run-time cache setting for a namespace and/or model (nil = any).
public struct CacheSettingScope: Sendable, Hashable {
    public var namespace: String?
    public var model: String?
    public init(namespace: String?, model: String?) {
        self.namespace = namespace
        self.model = model
    }
}

/// Threshold and guard strictness (word similarity) set at run time for a scope.
public struct CacheSettingValues: Sendable, Equatable {
    public var threshold: Float?
    public var wordSimilarity: Float?
    public init(threshold: Float? = nil, wordSimilarity: Float? = nil) {
        self.threshold = threshold
        self.wordSimilarity = wordSimilarity
    }
}

/// One recorded change: who, when, which scope and field, old and new value.
public struct CacheSettingChange: Sendable, Equatable {
    public var at: Date
    public var by: String
    public var scope: CacheSettingScope
    public var field: String
    public var old: Float?
    public var new: Float?
    public init(at: Date, by: String, scope: CacheSettingScope, field: String, old: Float?, new: Float?) {
        self.at = at
        self.by = by
        self.scope = scope
        self.field = field
        self.old = old
        self.new = new
    }
}

/// Persistent run-time cache settings with their audit trail.
public protocol CacheSettingsStore: Sendable {
    /// Every scope's settings and a version that changes with every write.
    func load() async throws -> (version: Int64, settings: [CacheSettingScope: CacheSettingValues])
    /// Sets (or with nil, clears) fields for a scope; records each change; returns the changes.
    func update(_ scope: CacheSettingScope, threshold: Float??, wordSimilarity: Float??, by: String) async throws -> [CacheSettingChange]
    /// The most recent changes, newest first.
    func history(limit: Int) async throws -> [CacheSettingChange]
}

extension LookupLogEntry {
    /// The labelled pair in the `cache eval` pairs format (`a` cached, `b` looked up), or nil
    /// when unlabelled or the prompts were not kept.
    public var labelledPair: JSONValue? {
        guard let label, let prompt, let candidatePrompt else { return nil }
        return .object(["a": .string(candidatePrompt), "b": .string(prompt), "same": .bool(label == .same), "kind": "labelled"])
    }
}

extension CacheSettingChange {
    public var json: JSONValue {
        .object([
            "at": .string(DateText.format(at)), "by": .string(by), "namespace": scope.namespace.map(JSONValue.string) ?? .null,
            "model": scope.model.map(JSONValue.string) ?? .null, "field": .string(field),
            "old": old.map { .number((Double($0) * 1e6).rounded() / 1e6) } ?? .null, "new": new.map { .number((Double($0) * 1e6).rounded() / 1e6) } ?? .null,
        ])
    }
}

extension CacheSettingValues {
    /// Applies an update (nil leaves a field, `.some(nil)` clears it) and lists what changed, for
    /// the audit trail; the same in every backend.
    public func applying(threshold: Float??, wordSimilarity: Float??, scope: CacheSettingScope, by: String, at: Date) -> (CacheSettingValues, [CacheSettingChange]) {
        var values = self
        var changes = [CacheSettingChange]()
        for (field, change, path) in [("threshold", threshold, \CacheSettingValues.threshold), ("word_similarity", wordSimilarity, \CacheSettingValues.wordSimilarity)] {
            guard let change, change != values[keyPath: path] else { continue }
            changes.append(CacheSettingChange(at: at, by: by, scope: scope, field: field, old: values[keyPath: path], new: change))
            values[keyPath: path] = change
        }
        return (values, changes)
    }

    /// No field set: the scope's row goes.
    public var isEmpty: Bool { threshold == nil && wordSimilarity == nil }
}
