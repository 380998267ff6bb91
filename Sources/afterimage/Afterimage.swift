import AfterimageServer
import ArgumentParser
import Foundation

/// The `afterimage` command line: a thin layer over the libraries.
@main
struct Afterimage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "afterimage",
        abstract: "Semantic response cache and cost-metering gateway for OpenAI-compatible image APIs.",
        discussion: """
            Settings come from AFTERIMAGE_CONFIG (or --config) and the environment; see Config/afterimage.yaml.
            Read commands take --output table|json|csv.

            EXAMPLES
              AFTERIMAGE_ADMIN_KEY=… afterimage serve --config Config/afterimage.yaml
              afterimage keys create --name analytics --namespace team-a --budget-usd 50 --budget-period month
              afterimage usage report --from 2026-11-01 --to 2026-12-01 --group-by key,model --output csv
              afterimage cache stats --output json
              afterimage --generate-completion-script bash > /etc/bash_completion.d/afterimage
            """,
        subcommands: [Serve.self, Keys.self, Namespaces.self, Usage.self, CacheCommand.self, StorageCommand.self, Embed.self, Bench.self]
    )
}

/// Options shared by every subcommand that reads the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $AFTERIMAGE_CONFIG, else Config/afterimage.yaml when present).")
    var config: String?

    /// The loaded configuration; exits with one line naming the key on a problem.
    func load() throws -> AfterimageConfiguration {
        var path = config
        if path == nil, ProcessInfo.processInfo.environment["AFTERIMAGE_CONFIG"] == nil,
           FileManager.default.fileExists(atPath: "Config/afterimage.yaml") {
            path = "Config/afterimage.yaml"
        }
        do {
            return try ConfigurationLoader.load(path: path)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("afterimage: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
