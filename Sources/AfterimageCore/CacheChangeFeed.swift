import Foundation

/// One committed change to the shared cache table, in the order of its sequence number.
public struct CacheChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case insert, delete }
    public var seq: Int64
    public var kind: Kind
    public var ref: CacheEntryRef
    /// The inserted entry's vector (nil for deletes, entries without one, or rows gone since).
    public var embedding: [Float]?

    public init(seq: Int64, kind: Kind, ref: CacheEntryRef, embedding: [Float]?) {
        self.seq = seq
        self.kind = kind
        self.ref = ref
        self.embedding = embedding
    }
}

/// The changes every process sharing a cache store makes, so each one's in-memory index can
/// follow the others' inserts and deletes (PostgreSQL: a change table and `LISTEN/NOTIFY`).
/// A backend with one process (SQLite) has none.
public protocol CacheChangeFeed: Sendable {
    /// The highest sequence number committed so far (read before loading the index).
    func position() async throws -> Int64
    /// Changes with a sequence above `position`, plus any of `gaps` (numbers skipped earlier that
    /// may still commit), in sequence order, at most `limit`; nil when the feed has pruned changes
    /// after `position` (the caller must reload its index).
    func changes(after position: Int64, gaps: [Int64], limit: Int) async throws -> [CacheChange]?
    /// Returns when a change may have been committed (a notification), or after `timeout`.
    func waitForChange(timeout: Duration) async
    /// Drops changes older than `cutoff` (a follower further behind reloads).
    func prune(olderThan cutoff: Date) async throws
}
