import AfterimageCore
import AfterimageEmbedding
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage bench …`: benchmarks that print medians and ratios (never timed unit tests).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [BenchEmbed.self, BenchIndex.self, BenchLedger.self, BenchReplicas.self, BenchGateway.self])
}

/// `afterimage bench embed`: MiniLM latency with float32 and bfloat16 weights, batch throughput,
/// concurrent callers, load time and memory, on one thread.
struct BenchEmbed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed", abstract: "Benchmark the MiniLM embedder on one core.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Model directory.") var modelDir: String?
    @Option(help: "Timed runs per prompt length.") var runs = 200

    func run() async throws {
        let directory = try modelDir ?? options.load().embedder.modelDirectory
        BLASRuntime.setThreads(1)
        print("BLAS: \(BLASRuntime.implementation.prefix(80))")
        var models = [(WeightPrecision, MiniLMEmbedder)]()
        for precision in [WeightPrecision.float32, .bfloat16] {
            let loadStart = DispatchTime.now().uptimeNanoseconds
            let model = try MiniLMEmbedder(directory: directory, precision: precision)
            let loadMs = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
            print(String(
                format: "%@: kernel %@, layer weights %.1f MiB, load %.0f ms, resident memory after load %.1f MiB",
                precision.rawValue, model.encoder.kernel, Double(model.encoder.linearWeightBytes) / 1_048_576, loadMs, Self.residentMiB()
            ))
            models.append((precision, model))
        }
        let tokenizer = models[0].1.tokenizer
        print("tokens  float32 median / p99 ms  bfloat16 median / p99 ms  ratio   (one prompt at a time, tokenizer included, runs interleaved)")
        for tokens in [8, 32, 128] {
            let text = Self.prompt(tokens: tokens, tokenizer: tokenizer)
            let count = max(20, tokens == 128 ? runs / 4 : runs)
            var times = [[Double]](repeating: [], count: models.count)
            let profiles = models.map { _ in EncoderProfile() }
            for run in -5..<count {
                for (slot, (_, model)) in models.enumerated() {
                    if run == 0 { profiles[slot].matrixNanoseconds = 0 }
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = model.encoder.encode([model.tokenizer.encode(text)], profile: profiles[slot])
                    if run >= 0 { times[slot].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
                }
            }
            let shares = profiles.indices.map { Double(profiles[$0].matrixNanoseconds) / 1e6 / times[$0].reduce(0, +) * 100 }
            for slot in times.indices { times[slot].sort() }
            func p99(_ sorted: [Double]) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))] }
            print(String(
                format: "%6d  %10.2f / %6.2f          %10.2f / %6.2f          %5.2fx   matrix share %.0f%% / %.0f%%",
                tokens, Self.median(times[0]), p99(times[0]), Self.median(times[1]), p99(times[1]), Self.median(times[0]) / Self.median(times[1]),
                shares[0], shares[1]
            ))
        }
        let batch = (0..<16).map { index in Self.prompt(tokens: 32, tokenizer: tokenizer, salt: index) }
        for (precision, model) in models {
            var batchTimes = [Double]()
            for _ in 0..<max(10, runs / 10) {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = model.encoder.encode(batch.map(model.tokenizer.encode))
                batchTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            batchTimes.sort()
            print(String(format: "%@ batch of 16 × 32 tokens: %.0f prompts/s (median %.1f ms per batch)", precision.rawValue, 16 / Self.median(batchTimes), Self.median(batchTimes) * 1000))
        }
        Self.rawPasses(models[1].1, tokenizer: tokenizer)
        try await Self.concurrency(directory: directory, tokenizer: tokenizer, runs: runs)
        print(String(format: "resident memory at end: %.1f MiB", Self.residentMiB()))
    }

    /// Throughput of the shipped embedder's `embed` (the server's path): one caller, then 16
    /// concurrent callers on one embedding lane and on two (`cache.embedder.threads: 2`) —
    /// micro-batching turns concurrency into larger passes, the second lane adds the second core.
    static func concurrency(directory: String, tokenizer: WordPieceTokenizer, runs: Int) async throws {
        let prompts = (0..<64).map { prompt(tokens: 12, tokenizer: tokenizer, salt: $0) }
        var rates = [Double](), batches = [Double]()
        for (callers, lanes) in [(1, 1), (16, 1), (16, 2)] {
            let model = try MiniLMEmbedder(directory: directory, executor: EmbeddingExecutor(workers: lanes))
            for warm in 0..<4 { _ = try await model.embed([prompts[warm]]) }
            let perCaller = max(8, runs / (callers == 1 ? 2 : 8))
            let start = DispatchTime.now().uptimeNanoseconds
            try await withThrowingTaskGroup(of: Void.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        for call in 0..<perCaller { _ = try await model.embed([prompts[(caller * 7 + call) % prompts.count]]) }
                    }
                }
                try await group.waitForAll()
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            rates.append(Double(callers * perCaller) / seconds)
            let statistics = model.batchStatistics
            batches.append(Double(statistics.texts) / Double(max(1, statistics.passes)))
        }
        print(String(
            format: "embed() of 12-token prompts: 1 caller %.0f/s; 16 concurrent callers, one lane %.0f/s (%.1fx, %.1f prompts per pass), two lanes %.0f/s (%.1fx, %.1f per pass)",
            rates[0], rates[1], rates[1] / rates[0], batches[1], rates[2], rates[2] / rates[0], batches[2]
        ))
    }

    /// Encoder passes of 1, 4, 8 and 16 twelve-token prompts, on one thread and on two at once:
    /// the ceiling micro-batching and a second lane can reach.
    static func rawPasses(_ model: MiniLMEmbedder, tokenizer: WordPieceTokenizer) {
        let ids = (0..<16).map { tokenizer.encode(prompt(tokens: 12, tokenizer: tokenizer, salt: $0)) }
        var line = "encoder passes of 12-token prompts, prompts/s (one thread / two threads at once):"
        for size in [1, 4, 8, 16] {
            let passes = max(4, 64 / size)
            var rates = [Double]()
            for threads in [1, 2] {
                let start = DispatchTime.now().uptimeNanoseconds
                DispatchQueue.concurrentPerform(iterations: threads) { _ in
                    for pass in 0..<passes { _ = model.encoder.encode((0..<size).map { ids[(pass + $0) % ids.count] }) }
                }
                rates.append(Double(threads * passes * size) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            }
            line += String(format: "  %d: %.0f / %.0f", size, rates[0], rates[1])
        }
        print(line)
    }

    static func median(_ sorted: [Double]) -> Double { sorted[sorted.count / 2] }

    /// A prompt of exactly `tokens` ids ([CLS] and [SEP] included), built from common words.
    static func prompt(tokens: Int, tokenizer: WordPieceTokenizer, salt: Int = 0) -> String {
        let words = ["a", "red", "fox", "sitting", "in", "the", "snowy", "forest", "at", "dawn", "highly", "detailed",
                     "painting", "of", "old", "harbor", "with", "boats", "under", "soft", "light"]
        var chosen = [String]()
        var index = salt
        while tokenizer.encode(chosen.joined(separator: " ")).count < tokens {
            chosen.append(words[index % words.count])
            index += 1
        }
        while tokenizer.encode(chosen.joined(separator: " ")).count > tokens { chosen.removeLast() }
        while tokenizer.encode(chosen.joined(separator: " ")).count < tokens { chosen.append("a") }
        return chosen.joined(separator: " ")
    }

    static func residentMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }
}
