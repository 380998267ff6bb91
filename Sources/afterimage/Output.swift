import AfterimageCore
import AfterimageMetering
import ArgumentParser
import Foundation

/// `--output table|json|csv`: how every read command prints.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, csv
}

/// The output option every read command takes (`--json` stays as the older spelling of
/// `--output json`).
struct OutputOptions: ParsableArguments {
    @Option(help: "Output: table (for people), json (as the admin API answers) or csv (RFC 4180).") var output: OutputFormat = .table
    @Flag(help: ArgumentHelp("The same as --output json.", visibility: .hidden)) var json = false

    var format: OutputFormat { json ? .json : output }

    /// Prints `value` as JSON, `table()` as text, or `csv` (default: `value` flattened into
    /// `field,value` rows).
    func emit(_ value: JSONValue, csv: TextTable? = nil, table: () -> String) {
        emit(value, csvText: (csv ?? TextTable.flattening(value)).csv, table: table)
    }

    /// As `emit`, with CSV text the caller renders itself (a report with its own columns).
    func emit(_ value: JSONValue, csvText: @autoclosure () -> String, table: () -> String) {
        switch format {
        case .json: print(String(decoding: JSONWriter.data(value), as: UTF8.self))
        case .csv: FileHandle.standardOutput.write(Data(csvText().utf8))
        case .table: print(table(), terminator: "")
        }
    }

    /// These options with an older command-specific spelling applied (`usage report --format`).
    func overridden(byLegacyFormat legacy: String?) throws -> OutputOptions {
        guard let legacy else { return self }
        guard let value = OutputFormat(rawValue: legacy) else { throw ValidationError("--format must be table, csv or json, got '\(legacy)'.") }
        var options = self
        options.output = value
        options.json = false
        return options
    }
}

extension OutputOptions {
    /// As `emit`, for commands that print their table themselves; true when they should.
    func emitUnlessTable(_ value: JSONValue, csv: TextTable? = nil) -> Bool {
        guard format != .table else { return true }
        emit(value, csv: csv) { "" }
        return false
    }
}

/// Rows under a header: an aligned text table or CSV.
struct TextTable {
    var header: [String]
    var rows: [[String]]

    /// Columns padded to their widest cell (at most 60 characters; longer cells are not cut).
    var text: String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = min(60, max(widths[index], cell.count)) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: max(cell.count, widths[index]), withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
        }
        return line(header.map { $0.uppercased() }) + rows.map(line).joined()
    }

    var csv: String { CSV.line(header) + rows.map(CSV.line).joined() }

    /// `field,value` rows of a JSON value: nested members as `a.b`, list items as `a[0]`.
    static func flattening(_ value: JSONValue) -> TextTable {
        var rows = [[String]]()
        func walk(_ value: JSONValue, _ path: String) {
            switch value {
            case .object(let members):
                for key in members.keys.sorted() { walk(members[key] ?? .null, path.isEmpty ? key : "\(path).\(key)") }
            case .array(let items):
                for (index, item) in items.enumerated() { walk(item, "\(path)[\(index)]") }
            case .string(let text): rows.append([path, text])
            case .null: rows.append([path, ""])
            default: rows.append([path, String(decoding: JSONWriter.data(value), as: UTF8.self)])
            }
        }
        walk(value, "")
        return TextTable(header: ["field", "value"], rows: rows)
    }
}
