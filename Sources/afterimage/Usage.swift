import AfterimageCore
import AfterimageServer
import AfterimageMetering
import ArgumentParser
import Foundation

/// `afterimage usage …`: finance reports and raw exports from the usage ledger.
struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Usage and cost reports.", subcommands: [Report.self, Export.self])

    static func ledger(_ options: ConfigOptions) async throws -> any UsageLedgerStore {
        try await Stores.open(options.load()).ledger
    }

    static func range(_ from: String, _ to: String) throws -> (Date, Date) {
        guard let start = ReportTime.parse(from) else { throw ValidationError("--from must be YYYY-MM-DD or an ISO 8601 timestamp, got '\(from)'.") }
        guard let end = ReportTime.parse(to) else { throw ValidationError("--to must be YYYY-MM-DD or an ISO 8601 timestamp, got '\(to)'.") }
        guard start < end else { throw ValidationError("--from must be before --to (the range is [from, to)).") }
        return (start, end)
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Requests, hits, images, tokens, cost and savings over [from, to), grouped.",
            discussion: """
                EXAMPLES
                  afterimage usage report --from 2026-11-01 --to 2026-12-01
                  afterimage usage report --from 2026-11-01 --to 2026-12-01 --group-by key,model --output csv > november.csv
                  afterimage usage report --from 2026-12-01T00:00:00Z --to 2026-12-02T00:00:00Z --group-by day --output json
                """
        )
        @OptionGroup var options: ConfigOptions
        @Option(help: "Start (included): YYYY-MM-DD (UTC) or ISO 8601.") var from: String
        @Option(help: "End (excluded): YYYY-MM-DD (UTC) or ISO 8601.") var to: String
        @Option(help: "Comma-separated: key, namespace, model, day, endpoint.") var groupBy = ""
        @OptionGroup var output: OutputOptions
        @Option(help: ArgumentHelp("The older spelling of --output (table, csv or json).", visibility: .hidden)) var format: String?

        func run() async throws {
            let (start, end) = try Usage.range(from, to)
            let dimensions: [UsageDimension]
            do { dimensions = try UsageDimension.parseList(groupBy) } catch let error as AfterimageError { throw ValidationError(error.message) }
            let report = try await Usage.ledger(options).report(from: start, to: end, groupBy: dimensions)
            try output.overridden(byLegacyFormat: format).emit(report.json, csvText: report.csv, table: { report.table })
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every ledger row in [from, to), streamed as RFC 4180 CSV or JSON lines.",
            discussion: """
                EXAMPLES
                  afterimage usage export --from 2026-11-01 --to 2026-12-01 > ledger.csv
                  afterimage usage export --from 2026-11-01 --to 2026-12-01 --format jsonl | gzip > ledger.jsonl.gz
                """
        )
        @OptionGroup var options: ConfigOptions
        @Option(help: "Start (included).") var from: String
        @Option(help: "End (excluded).") var to: String
        @Option(help: "csv or jsonl.") var format = "csv"

        func validate() throws {
            guard ["csv", "jsonl"].contains(format) else { throw ValidationError("--format must be csv or jsonl, got '\(format)'.") }
        }

        func run() async throws {
            let (start, end) = try Usage.range(from, to)
            let output = FileHandle.standardOutput
            if format == "csv" { output.write(Data(CSV.line(UsageRecord.exportColumns).utf8)) }
            // The rows go to stdout (usually a file); the count to a watching terminal on stderr.
            let bar = ProgressBar.forTerminal(outputIsData: true)
            defer { bar.finish() }
            var rows = 0
            try await Usage.ledger(options).export(from: start, to: end, pageSize: 1000) { page in
                rows += page.count
                bar.update("rows", rows, nil)
                output.write(Data(try UsageExportFormat.render(page, format: format).utf8))
            }
        }
    }
}
