import Foundation

extension UsageReport {
    /// A fixed-width text table (the CLI's default format).
    public var table: String {
        let groupCount = Self.groupColumns(groupBy).count
        var cells = [columns]
        for row in rows { cells.append(row.group.map { $0.1 ?? "-" } + row.totals.fields.map { Self.text($0.1) }) }
        let label = groupCount == 0 ? [] : ["total"] + Array(repeating: "", count: groupCount - 1)
        cells.append(label + total.fields.map { Self.text($0.1) })
        let widths = columns.indices.map { index in cells.map { $0[index].count }.max() ?? 0 }
        var text = "usage \(KeyExpiry.format(from)) – \(KeyExpiry.format(to)) (to excluded)\n"
        for (number, line) in cells.enumerated() {
            if number == cells.count - 1 { text += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n" }
            text += zip(line, widths).enumerated().map { index, pair in
                let padding = String(repeating: " ", count: max(0, pair.1 - pair.0.count))
                return index < groupCount ? pair.0 + padding : padding + pair.0
            }.joined(separator: "  ") + "\n"
        }
        return text
    }
}
