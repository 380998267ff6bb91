import AfterimageCore
import AfterimageEmbedding
import AfterimageServer
import ArgumentParser
import Foundation

/// `afterimage embed`: one text per stdin line (split on `\n` only) → one JSON object per line.
struct Embed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Embed one text per stdin line; print {text, input_ids, embedding} JSON lines.", discussion: "EXAMPLES\n  printf 'a red car\\na blue car\\n' | afterimage embed")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Model directory (default: cache.embedder.model_dir, env AFTERIMAGE_MODEL_DIR).") var modelDir: String?
    @Option(help: "minilm | openai | hashing (default: cache.embedder.kind).") var embedder: String?

    func run() async throws {
        var settings = try options.load().embedder
        if let modelDir { settings.modelDirectory = modelDir }
        if let embedder {
            guard let kind = EmbedderSettings.Kind(rawValue: embedder) else {
                throw ValidationError("--embedder must be minilm, openai or hashing")
            }
            settings.kind = kind
        }
        let model: any Embedder
        do {
            model = try EmbedderFactory.make(settings)
        } catch {
            FileHandle.standardError.write(Data("afterimage: \(error)\n".utf8))
            throw ExitCode(1)
        }
        try await Embed.using(model) { try await embedLines(model) }
    }

    /// Runs `body`, then shuts the embedder down (a remote one's HTTP client) whatever happened.
    static func using<T>(_ embedder: any Embedder, _ body: () async throws -> T) async throws -> T {
        let result: T
        do {
            result = try await body()
        } catch {
            try? await embedder.shutdown()
            throw error
        }
        try await embedder.shutdown()
        return result
    }

    func embedLines(_ model: any Embedder) async throws {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if input.last == UInt8(ascii: "\n") || input.isEmpty { lines.removeLast() }
        let minilm = model as? MiniLMEmbedder
        var start = 0
        while start < lines.count {
            let batch = Array(lines[start..<min(start + 64, lines.count)])
            let embeddings = try await model.embed(batch)
            var out = ""
            for (text, embedding) in zip(batch, embeddings) {
                let quoted = String(decoding: try JSONEncoder.afterimage.encode(JSONValue.string(text)), as: UTF8.self)
                out += "{\"text\":\(quoted)"
                if let minilm { out += ",\"input_ids\":[" + minilm.inputIDs(text).map(String.init).joined(separator: ",") + "]" }
                out += ",\"embedding\":[" + embedding.vector.map { "\($0)" }.joined(separator: ",") + "]}\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            start += batch.count
        }
    }
}
