import AfterimageCore
import ArgumentParser

/// `--budget-usd 5 --budget-period day|week|month --rpm 60 --images-per-minute 20`; `none`
/// removes a limit.
struct LimitOptions: ParsableArguments {
    @Option(help: "Spend budget in USD per period, e.g. 5 or 12.50 ('none' removes it).") var budgetUsd: String?
    @Option(help: "Budget period: day, week or month (calendar-aligned, UTC).") var budgetPeriod: String?
    @Option(help: "Requests per minute ('none' removes it).") var rpm: String?
    @Option(help: "Images per minute ('none' removes it).") var imagesPerMinute: String?

    func validate() throws { _ = try changes() }

    func changes() throws -> LimitChanges {
        var changes = LimitChanges()
        if let budgetUsd {
            if budgetUsd == "none" {
                changes.budget = .some(nil)
            } else if let money = Money(usd: budgetUsd) {
                changes.budget = .some(money)
            } else {
                throw ValidationError("--budget-usd must be a USD amount such as 5 or 12.50, or none; got '\(budgetUsd)'.")
            }
        }
        if let budgetPeriod {
            guard let period = BudgetPeriod(rawValue: budgetPeriod) else {
                throw ValidationError("--budget-period must be day, week or month; got '\(budgetPeriod)'.")
            }
            changes.budgetPeriod = period
        }
        changes.requestsPerMinute = try Self.count(rpm, flag: "--rpm")
        changes.imagesPerMinute = try Self.count(imagesPerMinute, flag: "--images-per-minute")
        return changes
    }

    static func count(_ text: String?, flag: String) throws -> Int?? {
        guard let text else { return nil }
        if text == "none" { return .some(nil) }
        guard let value = Int(text), value > 0 else { throw ValidationError("\(flag) must be a positive integer or none; got '\(text)'.") }
        return .some(value)
    }
}
