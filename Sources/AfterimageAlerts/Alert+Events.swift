import AfterimageCore
import Foundation

extension Alert {
    /// A request answered by a fallback: once per pair of models and hour.
    public static func failover(from primary: String, to used: String, attempts: Int, now: Date = Date()) -> Alert {
        let hour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        return Alert(
            event: .upstreamFailover, dedupKey: "\(primary)->\(used):\(DateText.format(hour))",
            summary: "model \(LogText.bounded(primary, 100)) failed; requests fall back to \(LogText.bounded(used, 100))",
            fields: [
                "model": .string(LogText.bounded(primary, 200)), "fallback_model": .string(LogText.bounded(used, 200)),
                "attempts": .integer(Int64(attempts)), "hour": .string(DateText.format(hour)),
            ],
            createdAt: now
        )
    }

    /// A model starting to rest after failures in a row: once per model and hour.
    public static func cooldown(model: String, failures: Int, seconds: Int, now: Date = Date()) -> Alert {
        let hour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        return Alert(
            event: .upstreamCooldown, dedupKey: "\(model):\(DateText.format(hour))",
            summary: "model \(LogText.bounded(model, 100)) failed \(failures) times in a row; it rests \(seconds) s at a time while it keeps failing",
            fields: [
                "model": .string(LogText.bounded(model, 200)), "failures_in_a_row": .integer(Int64(failures)),
                "rest_seconds": .integer(Int64(seconds)), "hour": .string(DateText.format(hour)),
            ],
            createdAt: now
        )
    }

    /// A lookup labelled `different`: the cache served (or would serve) a wrong answer.
    public static func falseHit(lookupID: Int64, by: String) -> Alert {
        Alert(
            event: .falseHit, dedupKey: String(lookupID),
            summary: "lookup \(lookupID) was labelled different by \(LogText.bounded(by, 100)): a false hit",
            fields: ["lookup_id": .integer(lookupID), "labelled_by": .string(LogText.bounded(by, 200))]
        )
    }
}
