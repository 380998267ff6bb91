@testable import AfterimageStorage
import AfterimageCore
import Foundation
import GRDB
import Testing

/// `DatabaseDate.text` must write exactly what GRDB stores, or `expires_at > ?` would compare
/// differently formatted text.
struct DatabaseDateTests {
    @Test func matchesGRDBOnRandomAndEdgeDates() {
        var random = SplitMix64(seed: 3)
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.0005), Date(timeIntervalSince1970: 0.9999),
            Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: 4_107_542_399.999), Date(timeIntervalSince1970: -62_135_596_800),
            Date(timeIntervalSince1970: 253_402_300_799.999), Date.distantFuture, Date.distantPast, Date(),
        ]
        for _ in 0..<5_000 {
            // Milliseconds across years 1900–2200, and sub-millisecond offsets around them.
            let seconds = Double(Int64(random.next() % 9_467_280_000_000)) / 1_000 - 2_208_988_800
            dates.append(Date(timeIntervalSince1970: seconds))
            dates.append(Date(timeIntervalSince1970: seconds + Double(random.next() % 1_000) / 1_000_000))
        }
        for date in dates {
            let grdb = String.fromDatabaseValue(date.databaseValue)
            #expect(DatabaseDate.text(date) == grdb, "\(date.timeIntervalSince1970)")
        }
    }
}
