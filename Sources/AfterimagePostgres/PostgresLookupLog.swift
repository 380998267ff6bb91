import AfterimageCore
import Foundation
import Logging
import PostgresNIO

/// `LookupLog` on PostgreSQL: a ring buffer of at most `maxRows` rows shared by every replica
/// (the oldest go first; stored prompts are already cut at 2 KiB, and the table enforces it).
public struct PostgresLookupLog: LookupLog {
    let database: PostgresBackend
    let maxRows: Int

    public init(database: PostgresBackend, maxRows: Int = 100_000) {
        self.database = database
        self.maxRows = maxRows
    }

    public func append(_ e: LookupLogEntry) async throws {
        let logger = database.logger
        let maxRows = Int64(maxRows)
        try await database.withConnection { connection in
            var id: Int64 = 0
            let rows = try await connection.query(
                """
                INSERT INTO lookup_log (created_at, request_id, namespace, model, prompt, prompt_hash, candidate_id, candidate_prompt,
                    candidate_hash, similarity, refused_by, decision, threshold, candidate_cost_nanos)
                VALUES (\(e.createdAt), \(e.requestID), \(e.namespace), \(e.model), \(e.prompt), \(e.promptHash), \(e.candidateID),
                    \(e.candidatePrompt), \(e.candidateHash), \(e.similarity.map(Double.init)), \(e.refusedBy?.description), \(e.decision.rawValue),
                    \(Double(e.threshold)), \(e.candidateCost?.nanos))
                RETURNING id
                """,
                logger: logger
            )
            for try await value in rows.decode(Int64.self) { id = value }
            try await connection.query("DELETE FROM lookup_log WHERE id <= \(id - maxRows)", logger: logger)
        }
    }

    public func entries(namespace: String?, since: Date?, limit: Int) async throws -> [LookupLogEntry] {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.columns) FROM lookup_log
            WHERE (\(namespace)::text IS NULL OR namespace = \(namespace)) AND (\(since)::timestamptz IS NULL OR created_at >= \(since))
            ORDER BY id DESC LIMIT \(max(0, limit))
            """)
        var entries = [LookupLogEntry]()
        for try await row in rows { entries.append(try Self.entry(row)) }
        return entries
    }

    public func label(id: Int64, label: LookupLabel, by: String) async throws -> Bool {
        let rows = try await database.query(
            "UPDATE lookup_log SET label = \(label.rawValue), labelled_by = \(by), labelled_at = now() WHERE id = \(id) RETURNING id")
        for try await _ in rows { return true }
        return false
    }

    static let columns = """
        id, created_at, request_id, namespace, model, prompt, prompt_hash, candidate_id, candidate_prompt, candidate_hash, \
        similarity, refused_by, decision, threshold, candidate_cost_nanos, label, labelled_by
        """

    static func entry(_ row: PostgresRow) throws -> LookupLogEntry {
        let r = row.makeRandomAccess()
        return LookupLogEntry(
            id: try r["id"].decode(Int64.self), createdAt: try r["created_at"].decode(Date.self), requestID: try r["request_id"].decode(String.self),
            namespace: try r["namespace"].decode(String.self), model: try r["model"].decode(String.self), prompt: try r["prompt"].decode(String?.self),
            promptHash: try r["prompt_hash"].decode(String.self), candidateID: try r["candidate_id"].decode(Int64?.self),
            candidatePrompt: try r["candidate_prompt"].decode(String?.self), candidateHash: try r["candidate_hash"].decode(String?.self),
            similarity: try r["similarity"].decode(Double?.self).map(Float.init), refusedBy: try r["refused_by"].decode(String?.self).map(GuardRefusal.init),
            decision: LookupDecision(rawValue: try r["decision"].decode(String.self)) ?? .miss, threshold: Float(try r["threshold"].decode(Double.self)),
            candidateCost: try r["candidate_cost_nanos"].decode(Int64?.self).map(Money.init(nanos:)),
            label: try r["label"].decode(String?.self).flatMap(LookupLabel.init(rawValue:)), labelledBy: try r["labelled_by"].decode(String?.self)
        )
    }
}
