import AfterimageCore
import Foundation
import GRDB

/// `LookupLog` on `lookup_log`: a ring buffer of at most `maxRows` rows (the oldest go first).
public struct SQLiteLookupLog: LookupLog {
    let database: AppDatabase
    let maxRows: Int

    public init(database: AppDatabase, maxRows: Int = 100_000) {
        self.database = database
        self.maxRows = maxRows
    }

    public func append(_ e: LookupLogEntry) async throws {
        try await append(contentsOf: [e])
    }

    /// All rows in one transaction, then the oldest beyond `maxRows` dropped.
    public func append(contentsOf entries: [LookupLogEntry]) async throws {
        guard !entries.isEmpty else { return }
        let maxRows = maxRows
        try await database.writer.write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO lookup_log (created_at, request_id, namespace, model, prompt, prompt_hash, candidate_id, candidate_prompt,
                candidate_hash, similarity, refused_by, decision, threshold, candidate_cost_nanos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for e in entries {
                try insert.execute(arguments: [
                    e.createdAt, e.requestID, e.namespace, e.model, e.prompt, e.promptHash, e.candidateID, e.candidatePrompt,
                    e.candidateHash, e.similarity.map { Double($0) }, e.refusedBy?.description, e.decision.rawValue, Double(e.threshold), e.candidateCost?.nanos,
                ])
            }
            try db.cachedStatement(sql: "DELETE FROM lookup_log WHERE id <= ?").execute(arguments: [db.lastInsertedRowID - Int64(maxRows)])
        }
    }

    public func entries(namespace: String?, since: Date?, limit: Int) async throws -> [LookupLogEntry] {
        var conditions = ["1"]
        var arguments = StatementArguments()
        if let namespace {
            conditions.append("namespace = ?")
            arguments += [namespace]
        }
        if let since {
            conditions.append("created_at >= ?")
            arguments += [since]
        }
        arguments += [limit]
        let sql = "SELECT * FROM lookup_log WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?"
        let bound = arguments
        return try await database.writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map(Self.entry)
        }
    }

    public func label(id: Int64, label: LookupLabel, by: String) async throws -> Bool {
        try await database.writer.write { db in
            try db.execute(sql: "UPDATE lookup_log SET label = ?, labelled_by = ?, labelled_at = ? WHERE id = ?", arguments: [label.rawValue, by, Date(), id])
            return db.changesCount > 0
        }
    }

    static func entry(_ row: Row) -> LookupLogEntry {
        LookupLogEntry(
            id: row["id"], createdAt: row["created_at"], requestID: row["request_id"], namespace: row["namespace"], model: row["model"],
            prompt: row["prompt"], promptHash: row["prompt_hash"], candidateID: row["candidate_id"], candidatePrompt: row["candidate_prompt"],
            candidateHash: row["candidate_hash"], similarity: (row["similarity"] as Double?).map(Float.init), refusedBy: (row["refused_by"] as String?).map(GuardRefusal.init),
            decision: LookupDecision(rawValue: row["decision"] as String? ?? "") ?? .miss, threshold: Float(row["threshold"] as Double), candidateCost: (row["candidate_cost_nanos"] as Int64?).map(Money.init(nanos:)),
            label: (row["label"] as String?).flatMap(LookupLabel.init(rawValue:)), labelledBy: row["labelled_by"]
        )
    }
}
