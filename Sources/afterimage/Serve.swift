import AfterimageCore
import AfterimageServer
import ArgumentParser
import Foundation
import Hummingbird
import Logging

/// `afterimage serve`: runs the HTTP server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway's HTTP server.", discussion: "EXAMPLES\n  AFTERIMAGE_ADMIN_KEY=… OPENAI_API_KEY=… afterimage serve\n  afterimage serve --config Config/afterimage.yaml")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let configuration = try options.load()
        LoggingSystem.bootstrap { label in BoundedLogHandler(StreamLogHandler.standardError(label: label)) }
        do {
            let app = try await AfterimageApp.build(configuration: configuration) { port in
                FileHandle.standardError.write(Data("afterimage: listening on http://\(configuration.server.host):\(port)\n".utf8))
            }
            try await app.runService()
        } catch {
            FileHandle.standardError.write(Data("afterimage: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
