import Foundation

/// A calendar period a spend budget resets on, aligned in UTC (weeks start on Monday).
public enum BudgetPeriod: String, Sendable, Codable, CaseIterable {
    case day, week, month

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// Start of the period containing `date`.
    public func start(containing date: Date) -> Date {
        let calendar = Self.utc
        switch self {
        case .day: return calendar.startOfDay(for: date)
        case .week: return calendar.dateInterval(of: .weekOfYear, for: date)!.start
        case .month: return calendar.dateInterval(of: .month, for: date)!.start
        }
    }

    /// End (exclusive) of the period containing `date`: when the budget resets.
    public func end(containing date: Date) -> Date {
        let calendar = Self.utc
        switch self {
        case .day: return calendar.date(byAdding: .day, value: 1, to: start(containing: date))!
        case .week: return calendar.dateInterval(of: .weekOfYear, for: date)!.end
        case .month: return calendar.dateInterval(of: .month, for: date)!.end
        }
    }
}

/// Spend budget and rate limits of a key or a namespace; nil fields mean no limit.
public struct SpendLimits: Sendable, Equatable, Codable {
    public var budget: Money?
    public var budgetPeriod: BudgetPeriod = .month
    /// Requests per minute (cache hits count).
    public var requestsPerMinute: Int?
    /// Images per minute (requested `n`, cache hits count).
    public var imagesPerMinute: Int?

    public init(budget: Money? = nil, budgetPeriod: BudgetPeriod = .month, requestsPerMinute: Int? = nil, imagesPerMinute: Int? = nil) {
        self.budget = budget
        self.budgetPeriod = budgetPeriod
        self.requestsPerMinute = requestsPerMinute
        self.imagesPerMinute = imagesPerMinute
    }

    public var isEmpty: Bool { budget == nil && requestsPerMinute == nil && imagesPerMinute == nil }

    /// `budget_usd` (decimal string or null), `budget_period`, `rpm`, `images_per_minute`.
    public var json: JSONValue {
        .object([
            "budget_usd": budget.map { .string($0.usdString) } ?? .null,
            "budget_period": .string(budgetPeriod.rawValue),
            "rpm": requestsPerMinute.map { .integer(Int64($0)) } ?? .null,
            "images_per_minute": imagesPerMinute.map { .integer(Int64($0)) } ?? .null,
        ])
    }
}

/// Changes to `SpendLimits`: nil leaves a field alone, `.some(nil)` removes the limit.
public struct LimitChanges: Sendable, Equatable {
    public var budget: Money??
    public var budgetPeriod: BudgetPeriod?
    public var requestsPerMinute: Int??
    public var imagesPerMinute: Int??

    public init(budget: Money?? = nil, budgetPeriod: BudgetPeriod? = nil, requestsPerMinute: Int?? = nil, imagesPerMinute: Int?? = nil) {
        self.budget = budget
        self.budgetPeriod = budgetPeriod
        self.requestsPerMinute = requestsPerMinute
        self.imagesPerMinute = imagesPerMinute
    }

    public func apply(to limits: inout SpendLimits) {
        if let budget { limits.budget = budget }
        if let budgetPeriod { limits.budgetPeriod = budgetPeriod }
        if let requestsPerMinute { limits.requestsPerMinute = requestsPerMinute }
        if let imagesPerMinute { limits.imagesPerMinute = imagesPerMinute }
    }
}
