import AfterimageCore
import AfterimageEmbedding
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage bench …`: benchmarks that print medians and ratios (never timed unit tests).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [BenchEmbed.self, BenchIndex.self, BenchLedger.self, BenchReplicas.self, BenchGateway.self])
}

/// `afterimage bench embed`: single-threaded MiniLM latency, throughput, load time and memory.
struct BenchEmbed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "embed", abstract: "Benchmark the MiniLM embedder on one core.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Model directory.") var modelDir: String?
    @Option(help: "Timed runs per prompt length.") var runs = 200

    func run() async throws {
        let directory = try modelDir ?? options.load().embedder.modelDirectory
        BLASRuntime.setThreads(1)
        print("BLAS: \(BLASRuntime.implementation.prefix(80))")
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let model = try MiniLMEmbedder(directory: directory)
        let loadMs = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e6
        print(String(format: "model load: %.1f ms, resident memory after load: %.1f MiB", loadMs, Self.residentMiB()))
        print("tokens  median ms  p99 ms  matrix share   attention as loops: median ms  (one prompt at a time, tokenizer included)")
        var loops = model.encoder
        loops.loopAttentionLimit = Int.max
        var gemm = model.encoder
        gemm.loopAttentionLimit = 0
        for tokens in [8, 32, 128] {
            let text = Self.prompt(tokens: tokens, tokenizer: model.tokenizer)
            let count = max(20, tokens == 128 ? runs / 4 : runs)
            // Shipped encoder, all-sgemm attention and all-loop attention, interleaved so noise hits all alike.
            var shipped = [Double](), loopTimes = [Double](), gemmTimes = [Double]()
            let profile = EncoderProfile()
            var total: UInt64 = 0
            for run in -5..<count {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = model.encoder.encode([model.tokenizer.encode(text)], profile: profile)
                let elapsed = DispatchTime.now().uptimeNanoseconds - start
                let loopStart = DispatchTime.now().uptimeNanoseconds
                _ = loops.encode([model.tokenizer.encode(text)])
                let gemmStart = DispatchTime.now().uptimeNanoseconds
                _ = gemm.encode([model.tokenizer.encode(text)])
                let end = DispatchTime.now().uptimeNanoseconds
                if run < 0 { profile.matrixNanoseconds = 0; continue }
                total += elapsed
                shipped.append(Double(elapsed) / 1e6)
                loopTimes.append(Double(gemmStart - loopStart) / 1e6)
                gemmTimes.append(Double(end - gemmStart) / 1e6)
            }
            shipped.sort(); loopTimes.sort(); gemmTimes.sort()
            let share = Double(profile.matrixNanoseconds) / Double(total) * 100
            print(String(
                format: "%6d  %9.2f  %6.2f  %11.1f%%   loops %.2f / sgemm %.2f",
                model.tokenizer.encode(text).count, Self.median(shipped), shipped[min(shipped.count - 1, Int(Double(shipped.count) * 0.99))],
                share, Self.median(loopTimes), Self.median(gemmTimes)
            ))
        }
        let batch = (0..<16).map { index in Self.prompt(tokens: 32, tokenizer: model.tokenizer, salt: index) }
        var batchTimes = [Double]()
        for _ in 0..<max(10, runs / 10) {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = model.encoder.encode(batch.map(model.tokenizer.encode))
            batchTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        batchTimes.sort()
        print(String(format: "batch of 16 × 32 tokens: %.0f prompts/s (median %.1f ms per batch)", 16 / Self.median(batchTimes), Self.median(batchTimes) * 1000))
        print(String(format: "resident memory at end: %.1f MiB", Self.residentMiB()))
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
