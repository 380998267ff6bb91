import Foundation
import GRDB

/// Dates as GRDB stores them — `yyyy-MM-dd HH:mm:ss.SSS`, UTC, to the nearest millisecond — written
/// without GRDB's `DateFormatter` (ICU), whose formatting of the `now` argument showed in the
/// profile of every cache lookup. `DatabaseDateTests` compare the two on random dates.
enum DatabaseDate {
    /// The text GRDB would store for `date` (years 1900–9999; other dates are left to GRDB).
    static func text(_ date: Date) -> String {
        // ICU rounds to the nearest millisecond, halves up.
        let milliseconds = (date.timeIntervalSince1970 * 1_000 + 0.5).rounded(.down)
        // Years 1900...9999: four digits, and after ICU's switch from the Julian calendar.
        guard milliseconds.isFinite, milliseconds >= -2_208_988_800_000, milliseconds < 253_402_300_800_000 else {
            return String.fromDatabaseValue(date.databaseValue) ?? ""
        }
        let total = Int64(milliseconds)
        let (days, inDay) = floorDivide(total, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let hour = inDay / 3_600_000, minute = inDay / 60_000 % 60, second = inDay / 1_000 % 60, millisecond = inDay % 1_000
        var bytes = [UInt8]()
        bytes.reserveCapacity(23)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); bytes.append(UInt8(ascii: "-")); digits(month, 2); bytes.append(UInt8(ascii: "-")); digits(day, 2)
        bytes.append(UInt8(ascii: " "))
        digits(hour, 2); bytes.append(UInt8(ascii: ":")); digits(minute, 2); bytes.append(UInt8(ascii: ":")); digits(second, 2)
        bytes.append(UInt8(ascii: ".")); digits(millisecond, 3)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value / divisor, remainder = value % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    /// Proleptic Gregorian year, month, day of a day count since 1970-01-01 (H. Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
