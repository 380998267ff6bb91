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
/// the same run. At one client: the stub alone (the baseline), bypass (`no-cache, no-store`),
/// miss, direct hit and semantic hit, p50 and p99; then hits/s at N connections.
struct BenchGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Benchmark the gateway end to end per storage backend.", discussion: "EXAMPLES\n  afterimage bench gateway\n  afterimage bench gateway --series direct,throughput --connections 32")

    @Option(help: "Requests per latency series.") var requests = 200
    @Option(help: "Concurrent connections for the throughput run.") var connections = 32
    @Option(help: "Requests in the throughput run.") var throughputRequests = 3000
    @Option(help: "Also run on this PostgreSQL database (postgres://…).") var databaseURL: String?
    @Option(help: "Series to run, comma-separated (for profiling one path): bypass,miss,direct,semantic,throughput.") var series = "bypass,miss,direct,semantic,throughput"
    @Option(help: "Throughput load generator: auto (wrk when installed, else the built-in client), wrk or builtin.") var loadGenerator = "auto"
    @Option(help: "Seconds of the wrk throughput run.") var throughputSeconds = 5
    @Option(help: "Embedder: minilm (the default model directory; what a real deployment runs) or hashing.") var embedder = "minilm"

    static let png = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGNocFDAihiGlgQA+gM4Acru2/oAAAAASUVORK5CYII="

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let (stubPort, stub) = try await Self.startStub(logger: logger)
        defer { Task { await stub.triggerGracefulShutdown() } }
        guard embedder == "minilm" || embedder == "hashing" else { throw ValidationError("--embedder must be minilm or hashing") }
        guard (1...100_000).contains(requests), (1...1_024).contains(connections), (1...10_000_000).contains(throughputRequests),
              (1...3_600).contains(throughputSeconds) else {
            throw ValidationError("--requests 1–100000, --connections 1–1024, --throughput-requests 1–10000000, --throughput-seconds 1–3600")
        }
        guard ["auto", "wrk", "builtin"].contains(loadGenerator) else { throw ValidationError("--load-generator must be auto, wrk or builtin") }
        if loadGenerator == "wrk", WrkLoad.executable() == nil { throw ValidationError("--load-generator wrk: wrk is not on PATH (apt-get install wrk)") }
        let stubTimes = try await Self.series(requests) { try await Self.post(url: "http://127.0.0.1:\(stubPort)/v1/images/generations", prompt: "baseline", secret: "sk-bench") }
        print(String(format: "stub upstream alone (the baseline): p50 %.2f ms, p99 %.2f ms; embedder ", stubTimes.p50, stubTimes.p99) + embedder)
        print("backend     series          p50 ms    p99 ms   over the stub p50")
        for backend in ["sqlite"] + (databaseURL == nil ? [] : ["postgres"]) {
            for line in try await measure(backend: backend, stubPort: stubPort, baseline: stubTimes.p50, logger: logger) { print(line) }
        }
    }

    /// p50 and p99 of `count` sequential calls, in milliseconds.
    static func series(_ count: Int, _ call: () async throws -> Double) async throws -> (p50: Double, p99: Double) {
        var times = [Double]()
        for _ in 0..<count { times.append(try await call()) }
        times.sort()
        return (times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.99))])
    }

    /// One generation request; returns its round trip in milliseconds and checks the cache outcome.
    @discardableResult
    static func post(url: String, prompt: String, secret: String, headers: [(String, String)] = [], expect: String? = nil) async throws -> Double {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(secret)")
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: #"{"model":"gpt-image-1","prompt":"\#(prompt)","response_format":"url"}"#))
        let start = ContinuousClock.now
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 16 << 20)
        let elapsed = ContinuousClock.now - start
        guard response.status == .ok else { throw ValidationError("the gateway answered \(response.status.code) to '\(prompt)'") }
        if let expect, let outcome = response.headers.first(name: "x-afterimage-cache"), outcome != expect {
            throw ValidationError("'\(prompt)' was a \(outcome), not a \(expect)")
        }
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    /// Distinct scene prompts for the miss series (the guard judges each against its neighbours).
    static func scene(_ index: Int) -> String {
        let colours = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple"]
        let animals = ["fox", "owl", "cat", "horse", "heron", "otter", "whale", "tiger", "rabbit", "deer"]
        let places = ["forest", "desert", "harbour", "meadow", "library", "kitchen", "glacier", "canyon", "garden", "attic", "market", "lighthouse"]
        let styles = ["watercolour", "oil painting", "pencil sketch", "photo"]
        return "a \(colours[index % colours.count]) \(animals[(index / colours.count) % animals.count]) in a \(places[(index / 80) % places.count]), \(styles[(index / 960) % styles.count])"
    }

    func measure(backend: String, stubPort: Int, baseline: Double, logger: Logger) async throws -> [String] {
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
        configuration.embedder.kind = embedder == "minilm" ? .minilm : .hashing
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
        var lines = [String]()
        func line(_ name: String, _ times: (p50: Double, p99: Double)) {
            lines.append(backend.padding(toLength: 11, withPad: " ", startingAt: 0) + name.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(format: " %8.2f  %8.2f   %+8.2f", times.p50, times.p99, times.p50 - baseline))
        }
        let chosen = Set(series.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        var counter = 0
        if chosen.contains("bypass") { line("bypass", try await Self.series(requests) {
            counter += 1
            return try await Self.post(url: url, prompt: "bypass \(counter)", secret: secret, headers: [("Cache-Control", "no-cache, no-store")], expect: "bypass")
        }) }
        counter = 0
        if chosen.contains("miss") { line("miss", try await Self.series(requests) {
            counter += 1
            return try await Self.post(url: url, prompt: Self.scene(counter), secret: secret, expect: "miss")
        }) }
        let stored = "a grey cat on a colour-coded bookshelf", paraphrase = "Please generate an image of a gray cat on a color-coded bookshelf"
        try await Self.post(url: url, prompt: stored, secret: secret, expect: "miss")
        if chosen.contains("direct") {
            line("direct hit", try await Self.series(requests) { try await Self.post(url: url, prompt: stored, secret: secret, expect: "hit-direct") })
        }
        if embedder == "minilm", chosen.contains("semantic") {
            line("semantic hit", try await Self.series(requests) { try await Self.post(url: url, prompt: paraphrase, secret: secret, expect: "hit-semantic") })
        }
        if chosen.contains("throughput") {
            let label = backend.padding(toLength: 11, withPad: " ", startingAt: 0)
            if loadGenerator != "builtin", let wrk = WrkLoad.executable() {
                let body = #"{"model":"gpt-image-1","prompt":"\#(stored)","response_format":"url"}"#
                // wrk is waited for on a blocking thread: the server's requests run on this process's event loops.
                let (connections, seconds) = (connections, throughputSeconds)
                let result = try await BlockingExecutor.io.run {
                    try WrkLoad.run(wrk, url: url, body: body, secret: secret, connections: connections, threads: 1, seconds: seconds)
                }
                guard result.failures == 0 else { throw ValidationError("\(result.failures) throughput requests did not succeed") }
                lines.append(label + String(format: "direct hits/s at %d connections (wrk, 1 thread): %.0f; latency p50 %@, p99 %@",
                                            connections, result.requestsPerSecond, result.p50, result.p99))
            } else {
                let started = ContinuousClock.now
                let perWorker = max(1, throughputRequests / connections)
                try await withThrowingTaskGroup(of: Void.self) { workers in
                    for _ in 0..<connections {
                        workers.addTask { for _ in 0..<perWorker { try await Self.post(url: url, prompt: stored, secret: secret) } }
                    }
                    try await workers.waitForAll()
                }
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                lines.append(label + String(format: "direct hits/s at %d connections (built-in client): %.0f", connections, Double(perWorker * connections) / seconds))
            }
        }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        return lines
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
