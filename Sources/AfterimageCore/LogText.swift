/// Bounds and escapes client- or upstream-controlled text before it reaches a log line, an error
/// message or a stored row: no value can make a line longer than its cap or forge a new line.
public enum LogText {
    /// The most characters of a client's value an error message repeats.
    public static let echoLimit = 64

    /// `text` cut to `limit` characters (with `…` and the original length when cut) and with
    /// control characters escaped.
    public static func bounded(_ text: String, _ limit: Int) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…(\(text.utf8.count) bytes)"
                return out
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) || (0x2028...0x2029).contains(scalar.value):
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }

    /// A client's value as an error message may quote it: at most `echoLimit` characters.
    public static func echo(_ text: String) -> String { bounded(text, echoLimit) }

    /// The longest a text prefix may be in UTF-8 bytes without splitting a character.
    public static func prefix(_ text: String, maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        var bytes = 0
        var end = text.startIndex
        for index in text.unicodeScalars.indices {
            let size = text.unicodeScalars[index].utf8.count
            if bytes + size > maxBytes { break }
            bytes += size
            end = text.unicodeScalars.index(after: index)
        }
        return String(text.unicodeScalars[..<end])
    }
}

extension StringProtocol {
    /// Without leading and trailing white space (`Character.isWhitespace`: spaces, tabs, line
    /// breaks) — `trimmingCharacters(in: .whitespacesAndNewlines)` without Foundation's NSString
    /// bridge, which showed in the profile of every request (header and field checks).
    public var trimmedWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace })!
        return String(self[first...last])
    }
}
