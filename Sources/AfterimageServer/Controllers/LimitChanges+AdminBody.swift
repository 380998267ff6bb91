import AfterimageCore

extension LimitChanges {
    /// Reads `budget_usd` (number, decimal string or null), `budget_period`, `rpm` and
    /// `images_per_minute` (positive integers or null) from an admin API body.
    public static func parse(_ body: [String: JSONValue]) throws -> LimitChanges {
        var changes = LimitChanges()
        if let value = body["budget_usd"] {
            if value == .null {
                changes.budget = .some(nil)
            } else {
                let text: String? = switch value {
                case .string(let s): s
                case .integer(let i): String(i)
                case .number(let d): String(describing: d)
                default: nil
                }
                guard let text, let money = Money(usd: text) else {
                    throw AfterimageError.invalidPayload("'budget_usd' must be a non-negative USD amount such as 5 or \"12.50\", or null.", param: "budget_usd")
                }
                changes.budget = .some(money)
            }
        }
        if let value = body["budget_period"] {
            guard let text = value.stringValue, let period = BudgetPeriod(rawValue: text) else {
                throw AfterimageError.invalidPayload("'budget_period' must be day, week or month.", param: "budget_period")
            }
            changes.budgetPeriod = period
        }
        for (name, path) in [("rpm", \LimitChanges.requestsPerMinute), ("images_per_minute", \LimitChanges.imagesPerMinute)] {
            guard let value = body[name] else { continue }
            if value == .null {
                changes[keyPath: path] = .some(nil)
            } else if let number = value.integerValue, number > 0, number <= Int64(Int32.max) {
                changes[keyPath: path] = .some(Int(number))
            } else {
                throw AfterimageError.invalidPayload("'\(name)' must be a positive integer or null.", param: name)
            }
        }
        return changes
    }
}
