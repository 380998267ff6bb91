import AfterimageCore

/// The one rule that decides whether a semantic candidate is served: similar enough (at or above
/// the threshold in force) and not refused by the false-hit guard at the strictness in force. The
/// server's lookup, `cache eval`, the what-if replay and the threshold suggestion all decide
/// through it.
public enum CacheDecision {
    public static func serves(similarity: Float, threshold: Float, refusal: GuardRefusal?) -> Bool {
        similarity >= threshold && refusal == nil
    }
}

extension LookupLogEntry {
    /// Whether this lookup would be served at threshold `t` (judged on its nearest candidate and
    /// the guard's recorded verdict on it).
    public func wouldHit(at t: Float) -> Bool {
        guard let similarity, candidateID != nil else { return false }
        return CacheDecision.serves(similarity: similarity, threshold: t, refusal: refusedBy)
    }
}
