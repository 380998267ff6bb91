import Foundation

/// Ages and periods written as a number and a unit: `90s`, `15m`, `12h`, `7d`, `2w`
/// (as in `cache purge --older-than 7d`).
public enum AgeText {
    /// Seconds in the text, or nil if it is not `<positive integer><s|m|h|d|w>`.
    public static func seconds(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let unit = trimmed.last, let value = Int(trimmed.dropLast()), value > 0 else { return nil }
        let multiplier: Int
        switch unit {
        case "s": multiplier = 1
        case "m": multiplier = 60
        case "h": multiplier = 3600
        case "d": multiplier = 86_400
        case "w": multiplier = 7 * 86_400
        default: return nil
        }
        let (seconds, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : seconds
    }

    /// `now` minus the age in `text`, or nil if the text is not an age.
    public static func cutoff(_ text: String, now: Date = Date()) -> Date? {
        seconds(text).map { now.addingTimeInterval(-TimeInterval($0)) }
    }
}
