import AfterimageAlerts
import AfterimageCache
import AfterimageCore
import AfterimageServer
import ArgumentParser
import Foundation
import Logging

/// The lookup log and run-time settings in the configured data directory.
struct TuningStores {
    let log: any LookupLog
    let settings: any CacheSettingsStore
    let maxRows: Int
    let alerts: AlertSettings
    let alertClaims: any AlertClaims

    init(_ options: ConfigOptions) async throws {
        let configuration = try options.load()
        let stores = try await Stores.open(configuration)
        maxRows = configuration.cache.lookupLogMaxRows
        log = stores.lookupLog
        settings = stores.cacheSettings
        alerts = configuration.alerts
        alertClaims = stores.alerts
    }

    static func since(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        guard let date = AgeText.cutoff(text) else { throw ValidationError("--since must be a number and a unit (s, m, h, d, w), e.g. 7d; got '\(text)'.") }
        return date
    }
}

/// `afterimage cache whatif`: replays logged lookups at another threshold.
struct CacheWhatIf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whatif", abstract: "Hits, misses and savings of logged lookups at another threshold, and the lookups that flip.", discussion: "EXAMPLES\n  afterimage cache whatif --threshold 0.85 --since 7d\n  afterimage cache whatif --threshold 0.9 --namespace team-a --output csv")
    @OptionGroup var options: ConfigOptions
    @Option(help: "Threshold to replay at (0–1).") var threshold: Float
    @Option(help: "Only this namespace.") var namespace: String?
    @Option(help: "Only lookups this recent, e.g. 7d.") var since: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (0...1).contains(threshold) else { throw ValidationError("--threshold must be between 0 and 1.") }
    }

    func run() async throws {
        let stores = try await TuningStores(options)
        let entries = try await stores.log.entries(namespace: namespace, since: try TuningStores.since(since), limit: stores.maxRows)
        let report = WhatIf(threshold: threshold, entries: entries)
        guard output.emitUnlessTable(report.json) else { return }
        print("lookups \(report.lookups)")
        print("now:          hits \(report.hitsNow), misses \(report.lookups - report.hitsNow), saved $\(report.savedNow.usdString)")
        print(String(format: "at %.3f:     ", threshold) + "hits \(report.hitsAtThreshold), misses \(report.lookups - report.hitsAtThreshold), saved $\(report.savedAtThreshold.usdString)")
        for (title, list) in [("would become hits", report.gained), ("would become misses", report.lost)] where !list.isEmpty {
            print("\n\(title):")
            for entry in list {
                let similarity = entry.similarity.map { String(format: "%.4f", $0) } ?? "-"
                print("  #\(entry.id ?? 0) \(similarity) \(entry.candidatePrompt ?? entry.candidateHash ?? "?") || \(entry.prompt ?? entry.promptHash)")
            }
        }
    }
}

/// `afterimage cache label ID same|different`.
struct CacheLabel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "label", abstract: "Mark a logged lookup's pair same or different.", discussion: "EXAMPLES\n  afterimage cache label 1234 different --by alice")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "Lookup id (from GET /admin/cache/lookups or the dashboard).") var id: Int64
    @Argument(help: "same or different.") var label: LookupLabel
    @Option(help: "Who labels (default: $USER).") var by: String?

    func run() async throws {
        let who = by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
        let stores = try await TuningStores(options)
        guard try await stores.log.label(id: id, label: label, by: who) else { throw ValidationError("No lookup with id \(id).") }
        print("lookup \(id): \(label.rawValue)")
        // A false-hit report goes to the alert webhooks, as through the admin API.
        if label == .different {
            let logger = Logger(label: "afterimage.alerts")
            await AlertCenter.send(
                Alert.falseHit(lookupID: id, by: who), settings: stores.alerts, claims: stores.alertClaims,
                sender: WebhookSender(logger: logger), logger: logger
            )
        }
    }
}

/// `afterimage cache export-labels`: labelled pairs as JSONL, the format `cache eval --pairs` reads.
struct CacheExportLabels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export-labels", abstract: "Print labelled lookups as cache-eval pairs (JSONL).", discussion: "EXAMPLES\n  afterimage cache export-labels > labels.jsonl && afterimage cache eval --pairs labels.jsonl")
    @OptionGroup var options: ConfigOptions
    @Option(help: "Only this namespace.") var namespace: String?

    func run() async throws {
        let stores = try await TuningStores(options)
        for entry in try await stores.log.entries(namespace: namespace, since: nil, limit: stores.maxRows).reversed() {
            guard let pair = entry.labelledPair else { continue }
            print(String(decoding: try JSONEncoder.afterimage.encode(pair), as: UTF8.self))
        }
    }
}

/// `afterimage cache suggest-threshold`.
struct CacheSuggestThreshold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suggest-threshold",
        abstract: "The lowest threshold whose false-hit rate on labelled lookups is below a target with 95% confidence (exact binomial bound).",
        discussion: "Example: afterimage cache suggest-threshold --max-false-hit-rate 0.02   (says how many more labels it needs when there are too few)"
    )
    @OptionGroup var options: ConfigOptions
    @Option(help: "Target false-hit rate, 0.0001-0.5; the upper confidence bound must be below it.") var maxFalseHitRate: Double = 0.05
    @Option(help: "Confidence of the bound, 0.5-0.999.") var confidence: Double = 0.95
    @Option(help: "Only this namespace.") var namespace: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard maxFalseHitRate.isFinite, (0.0001...0.5).contains(maxFalseHitRate) else { throw ValidationError("--max-false-hit-rate must be from 0.0001 to 0.5") }
        guard confidence.isFinite, (0.5...0.999).contains(confidence) else { throw ValidationError("--confidence must be from 0.5 to 0.999") }
    }

    func run() async throws {
        let stores = try await TuningStores(options)
        let all = try await stores.log.entries(namespace: namespace, since: nil, limit: stores.maxRows)
        let suggestion = ThresholdSuggestion(maxFalseHitRate: maxFalseHitRate, confidence: confidence, labelled: all.filter { $0.label != nil }, all: all)
        guard output.emitUnlessTable(suggestion.json) else { return }
        guard let threshold = suggestion.threshold else {
            let more = suggestion.moreLabelsNeeded.map { "at least \($0) more lookups labelled different (none of them served)" } ?? "more labels"
            print(String(format: "no threshold yet: %d labelled (%d same, %d different); a %.0f%% bound below %.2f%% needs %@. Label lookups with `afterimage cache label` or the dashboard.",
                         suggestion.labelled, suggestion.same, suggestion.different, confidence * 100, maxFalseHitRate * 100, more))
            return
        }
        print(String(format: "suggested threshold %.4f: false-hit rate %.3f observed, below %.4f with %.0f%% confidence, on %d labelled (%d same, %d different); recall %.3f, expected hit rate %.3f",
                     threshold, suggestion.falseHitRate ?? 0, suggestion.falseHitUpperBound ?? 1, confidence * 100, suggestion.labelled, suggestion.same, suggestion.different,
                     suggestion.recall ?? 0, suggestion.expectedHitRate ?? 0))
    }
}

/// `afterimage cache set-threshold`: a run-time setting, effective at once in a running server.
struct CacheSetThreshold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set-threshold", abstract: "Set (or clear) the threshold and guard strictness for a namespace and/or model.", discussion: "EXAMPLES\n  afterimage cache set-threshold 0.9 --namespace team-a\n  afterimage cache set-threshold clear --model gpt-image-1")
    @OptionGroup var options: ConfigOptions
    @Argument(help: "Threshold 0–1, or 'clear'.") var threshold: String
    @Option(help: "Only this namespace (default: every namespace).") var namespace: String?
    @Option(help: "Only this model (default: every model).") var model: String?
    @Option(help: "Guard word similarity 0–1 (higher = stricter), or 'clear'.") var wordSimilarity: String?
    @Option(help: "Who changes it (default: $USER).") var by: String?

    static func fraction(_ text: String, flag: String) throws -> Float? {
        if text == "clear" { return nil }
        guard let value = Float(text), (0...1).contains(value) else { throw ValidationError("\(flag) must be between 0 and 1 or clear, got '\(text)'.") }
        return value
    }

    func run() async throws {
        let who = by ?? ProcessInfo.processInfo.environment["USER"] ?? "cli"
        let newThreshold: Float?? = .some(try Self.fraction(threshold, flag: "threshold"))
        var newWordSimilarity: Float?? = nil
        if let wordSimilarity { newWordSimilarity = .some(try Self.fraction(wordSimilarity, flag: "--word-similarity")) }
        let changes = try await TuningStores(options).settings.update(
            CacheSettingScope(namespace: namespace, model: model), threshold: newThreshold, wordSimilarity: newWordSimilarity, by: who
        )
        if changes.isEmpty { print("unchanged") }
        for change in changes {
            print("\(change.field): \(change.old.map { "\($0)" } ?? "default") → \(change.new.map { "\($0)" } ?? "default") (\(namespace ?? "any namespace"), \(model ?? "any model"), by \(who))")
        }
    }
}

extension LookupLabel: ExpressibleByArgument {}
