import AfterimageCore
import AfterimagePostgres
import AfterimageServer
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `afterimage bench gateway`: the whole gateway on loopback against an in-process stub upstream
/// (answers at once with an 8x8 PNG), on SQLite and — with `--database-url` — on PostgreSQL in
/// the same run: miss and direct-hit latency at one client, hits/s at N connections.
struct BenchGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Benchmark the gateway end to end per storage backend.")

    @Option(help: "Requests per latency series.") var requests = 200
    @Option(help: "Concurrent connections for the throughput run.") var connections = 32
    @Option(help: "Requests in the throughput run.") var throughputRequests = 3000
    @Option(help: "Also run on this PostgreSQL database (postgres://…).") var databaseURL: String?

    static let png = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGNocFDAihiGlgQA+gM4Acru2/oAAAAASUVORK5CYII="

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let (stubPort, stub) = try await Self.startStub(logger: logger)
        defer { Task { await stub.triggerGracefulShutdown() } }
        print("backend      miss p50   miss p99   hit p50    hit p99    hits/s (\(connections) conns)")
        for backend in ["sqlite"] + (databaseURL == nil ? [] : ["postgres"]) {
            let row = try await measure(backend: backend, stubPort: stubPort, logger: logger)
            print(row)
        }
    }

    func measure(backend: String, stubPort: Int, logger: Logger) async throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afterimage-bench-gw-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var environment = [
            "AFTERIMAGE_HOST": "127.0.0.1", "AFTERIMAGE_PORT": "0", "AFTERIMAGE_DATA_DIR": directory.path,
            "AFTERIMAGE_UPSTREAM_BASE_URL": "http://127.0.0.1:\(stubPort)/v1", "OPENAI_API_KEY": "sk-bench",
            "AFTERIMAGE_SIGNING_SECRET": "bench-signing-secret",
        ]
        if backend == "postgres", let databaseURL {
            environment["AFTERIMAGE_STORAGE_BACKEND"] = "postgres"
            environment["AFTERIMAGE_DATABASE_URL"] = databaseURL
        }
        var configuration = try ConfigurationLoader.parse(yaml: "", environment: environment)
        configuration.embedder.kind = .hashing
        configuration.logLevel = "error"
        configuration.upstream.imageDownload.allowHTTP = true
        configuration.upstream.imageDownload.allowPrivateNetworks = true
        configuration.server.unauthenticatedRPM = 0
        let stores = try await Stores.open(configuration, logger: logger)
        defer { stores.close() }
        let secret = KeySecret.generate()
        _ = try await stores.keys.create(name: "bench", namespace: "bench-\(UUID().uuidString.prefix(8))", allowedModels: nil, expiresAt: nil, secret: secret)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = try await AfterimageApp.build(configuration: configuration, logger: logger) { portSink.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        var port = 0
        for await bound in ports {
            port = bound
            break
        }
        let url = "http://127.0.0.1:\(port)/v1/images/generations"
        let run = UUID().uuidString.prefix(8)
        func post(_ prompt: String) async throws -> Double {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(secret)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"model":"gpt-image-1","prompt":"\#(prompt)"}"#))
            let start = ContinuousClock.now
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 16 << 20)
            guard response.status == .ok else { throw ValidationError("the gateway answered \(response.status.code)") }
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        }
        var misses = [Double]()
        for index in 0..<requests { misses.append(try await post("bench \(run) miss \(index)")) }
        _ = try await post("bench \(run) hot")
        var hits = [Double]()
        for _ in 0..<requests { hits.append(try await post("bench \(run) hot")) }
        let started = ContinuousClock.now
        let perWorker = max(1, throughputRequests / connections)
        try await withThrowingTaskGroup(of: Void.self) { workers in
            for _ in 0..<connections {
                workers.addTask { for _ in 0..<perWorker { _ = try await post("bench \(run) hot") } }
            }
            try await workers.waitForAll()
        }
        let seconds = Double((ContinuousClock.now - started).components.seconds) + Double((ContinuousClock.now - started).components.attoseconds) / 1e18
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        misses.sort()
        hits.sort()
        func percentile(_ values: [Double], _ p: Double) -> Double { values[min(values.count - 1, Int(Double(values.count) * p))] }
        return String(
            format: "%@ %7.2f ms %7.2f ms %7.2f ms %7.2f ms %8.0f", backend.padding(toLength: 10, withPad: " ", startingAt: 0) as NSString,
            percentile(misses, 0.5), percentile(misses, 0.99), percentile(hits, 0.5), percentile(hits, 0.99), Double(perWorker * connections) / seconds
        )
    }

    /// An upstream that answers every generation at once with one 8x8 PNG.
    static func startStub(logger: Logger) async throws -> (Int, ServiceGroup) {
        let router = Router()
        router.post("v1/images/generations") { _, _ -> Response in
            let body = #"{"created":1,"data":[{"b64_json":"\#(png)"}],"usage":{"input_tokens":5,"output_tokens":272,"input_tokens_details":{"text_tokens":5,"image_tokens":0}}}"#
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { sink.yield($0.localAddress?.port ?? 0) }, logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        Task { try await group.run() }
        for await port in ports { return (port, group) }
        throw ValidationError("the stub did not start")
    }
}
