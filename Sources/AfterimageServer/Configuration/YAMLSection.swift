import Foundation

/// A mapping of the YAML config with its dotted path; typed getters name the key in every error,
/// and `finish()` rejects keys nobody read (typos never pass silently).
struct YAMLSection {
    let path: String
    let values: [String: Any]
    private var read = Set<String>()

    init(path: String, value: Any?) throws {
        self.path = path
        switch value {
        case nil, is NSNull: values = [:]
        case let dictionary as [String: Any]: values = dictionary
        case let dictionary as [AnyHashable: Any]:
            var converted = [String: Any]()
            for (key, value) in dictionary { converted["\(key)"] = value }
            values = converted
        default: throw ConfigurationError(key: path.isEmpty ? "(root)" : path, problem: "must be a mapping")
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func raw(_ key: String) -> Any? {
        read.insert(key)
        if let value = values[key], !(value is NSNull) { return value }
        return nil
    }

    mutating func string(_ key: String) throws -> String? {
        guard let value = raw(key) else { return nil }
        if let string = value as? String { return string }
        if let number = value as? Int { return String(number) }
        throw ConfigurationError(key: keyPath(key), problem: "must be a string")
    }

    mutating func int(_ key: String, range: ClosedRange<Int>) throws -> Int? {
        guard let value = raw(key) else { return nil }
        guard let number = value as? Int else { throw ConfigurationError(key: keyPath(key), problem: "must be an integer") }
        guard range.contains(number) else {
            throw ConfigurationError(key: keyPath(key), problem: "must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
        }
        return number
    }

    mutating func double(_ key: String) throws -> Double? {
        guard let value = raw(key) else { return nil }
        if let number = value as? Double { return number }
        if let number = value as? Int { return Double(number) }
        throw ConfigurationError(key: keyPath(key), problem: "must be a number")
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let value = raw(key) else { return nil }
        guard let flag = value as? Bool else { throw ConfigurationError(key: keyPath(key), problem: "must be true or false") }
        return flag
    }

    mutating func strings(_ key: String) throws -> [String]? {
        guard let value = raw(key) else { return nil }
        guard let list = value as? [Any] else { throw ConfigurationError(key: keyPath(key), problem: "must be a list of strings") }
        return try list.enumerated().map { index, item in
            if let string = item as? String { return string }
            throw ConfigurationError(key: "\(keyPath(key))[\(index)]", problem: "must be a string")
        }
    }

    mutating func section(_ key: String) throws -> YAMLSection {
        try YAMLSection(path: keyPath(key), value: raw(key))
    }

    mutating func list(_ key: String) throws -> [Any]? {
        guard let value = raw(key) else { return nil }
        guard let list = value as? [Any] else { throw ConfigurationError(key: keyPath(key), problem: "must be a list") }
        return list
    }

    /// Throws for the first key present in the file that was never read.
    func finish() throws {
        if let unknown = values.keys.sorted().first(where: { !read.contains($0) }) {
            throw ConfigurationError(key: keyPath(unknown), problem: "unknown key")
        }
    }
}
