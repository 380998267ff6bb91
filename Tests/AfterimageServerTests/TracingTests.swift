import AfterimageCore
import AfterimageServer
import AfterimageTesting
import Foundation
import Testing

/// OpenTelemetry traces: a local OTLP/HTTP receiver gets the span tree of a miss and of a hit,
/// the upstream gets the attempt's `traceparent`, a caller's trace is joined, and tracing off
/// sends nothing.
@Suite struct TracingTests {
    static let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerSpan = "00f067aa0ba902b7"

    @Test func aMissAndAHitExportTheirSpanTrees() async throws {
        try await Self.withTracedFixture { f, receiver in
            // A miss inside a caller's trace, then the same prompt again: a direct hit.
            let body: [String: JSONValue] = ["model": "gpt-image-1", "prompt": "a tracing lighthouse", "response_format": "url"]
            let miss = try await f.generate(body, headers: [("traceparent", "00-\(Self.callerTrace)-\(Self.callerSpan)-01")])
            #expect(miss.status == 200)
            let hit = try await f.generate(body)
            #expect(hit.status == 200)
            #expect(hit.json["extra_fields"]?["cache_debug"]?["hit_type"]?.stringValue == "direct")
            let missID = try #require(miss.headers.first(name: "x-request-id"))
            let hitID = try #require(hit.headers.first(name: "x-request-id"))

            let spans = try await Self.waitForRoots([missID, hitID], in: receiver)
            let missRoot = try #require(spans.first { $0.attributes["afterimage.request_id"] == missID })
            let hitRoot = try #require(spans.first { $0.attributes["afterimage.request_id"] == hitID })

            // The miss joined the caller's trace; its root is the server span of the route.
            #expect(missRoot.traceID == Self.callerTrace)
            #expect(missRoot.parentID == Self.callerSpan)
            #expect(missRoot.name == "POST /v1/images/generations")
            #expect(missRoot.kind == 2)
            #expect(missRoot.attributes["http.response.status_code"] == "200")
            #expect(missRoot.attributes["afterimage.cache"] == "miss")
            #expect(missRoot.attributes["afterimage.key_id"] == f.key.id)
            let missChildren = Self.children(of: missRoot, in: spans)
            // The miss's ledger row is committed with its cache entry, in `store`.
            #expect(missChildren.map(\.name) == ["auth", "limits", "cache.lookup", "upstream.attempt", "store"])
            #expect(missChildren.last?.attributes["afterimage.ledger_row"] == "committed")
            let lookup = try #require(missChildren.first { $0.name == "cache.lookup" })
            #expect(Self.children(of: lookup, in: spans).map(\.name) == ["embedding"])
            let attempt = try #require(missChildren.first { $0.name == "upstream.attempt" })
            #expect(attempt.kind == 3)
            #expect(attempt.attributes["afterimage.model"] == "gpt-image-1")
            #expect(attempt.attributes["http.response.status_code"] == "200")

            // The upstream got the attempt span's context.
            let sent = try #require(f.stub.received.first { $0.path == "generations" }?.traceparent)
            let parts = sent.split(separator: "-").map(String.init)
            #expect(parts.count == 4 && parts[1] == Self.callerTrace && parts[2] == attempt.spanID, "\(sent)")

            // The hit: a trace of its own, no upstream call and nothing stored.
            #expect(hitRoot.traceID != Self.callerTrace)
            #expect(hitRoot.parentID == nil)
            #expect(hitRoot.attributes["afterimage.cache"] == "direct")
            #expect(Self.children(of: hitRoot, in: spans).map(\.name) == ["auth", "limits", "cache.lookup", "ledger.commit"])
        }
    }

    @Test func errorsMarkTheirSpansAndHostileTraceHeadersStartANewTrace() async throws {
        try await Self.withTracedFixture { f, receiver in
            let garbage = String(repeating: "z", count: 8_000)
            let bad = try await f.generate(["model": "gpt-image-1", "prompt": "x"], key: "sk-af-wrong", headers: [("traceparent", garbage)])
            #expect(bad.status == 401)
            let ok = try await f.generate(["model": "gpt-image-1", "prompt": "a hostile header"], headers: [("traceparent", "00-zz-yy-01"), ("tracestate", garbage)])
            #expect(ok.status == 200)
            let badID = try #require(bad.headers.first(name: "x-request-id"))
            let okID = try #require(ok.headers.first(name: "x-request-id"))
            let spans = try await Self.waitForRoots([badID, okID], in: receiver)
            let badRoot = try #require(spans.first { $0.attributes["afterimage.request_id"] == badID })
            #expect(badRoot.parentID == nil)
            #expect(badRoot.attributes["http.response.status_code"] == "401")
            #expect(badRoot.attributes["afterimage.error_code"] == "unauthorized")
            let auth = try #require(Self.children(of: badRoot, in: spans).first { $0.name == "auth" })
            #expect(auth.statusCode == 2, "the failed step is marked as an error")
            let okRoot = try #require(spans.first { $0.attributes["afterimage.request_id"] == okID })
            #expect(okRoot.parentID == nil && okRoot.traceID.count == 32)
        }
    }

    @Test func tracingOffSendsNoTraceHeaderUpstream() async throws {
        try await withFixture { f in
            let reply = try await f.generate(
                ["model": "gpt-image-1", "prompt": "untraced"], headers: [("traceparent", "00-\(Self.callerTrace)-\(Self.callerSpan)-01")]
            )
            #expect(reply.status == 200)
            let sent = try #require(f.stub.received.first { $0.path == "generations" })
            #expect(sent.traceparent == nil)
        }
    }

    @Test(arguments: [
        ("tracing:\n  endpoint: ftp://collector:21", "tracing.endpoint"),
        ("tracing:\n  endpoint: not a url", "tracing.endpoint"),
        ("tracing:\n  sample_ratio: 1.5", "tracing.sample_ratio"),
        ("tracing:\n  sample_ratio: -0.1", "tracing.sample_ratio"),
        ("tracing:\n  protocol: grpc", "tracing.protocol"),
        ("tracing:\n  service_name: \"\"", "tracing.service_name"),
        ("tracing:\n  service_name: \(String(repeating: "s", count: 200))", "tracing.service_name"),
        ("tracing:\n  export_interval_ms: 0", "tracing.export_interval_ms"),
        ("tracing:\n  enabled: maybe", "tracing.enabled"),
        ("tracing:\n  colour: blue", "tracing.colour"),
    ])
    func hostileTracingSettingsAreRefusedByName(yaml: String, key: String) throws {
        #expect {
            _ = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        } throws: { error in
            "\(error)".contains(key)
        }
    }

    @Test func tracingSettingsParse() throws {
        let configuration = try ConfigurationLoader.parse(yaml: """
            tracing:
              enabled: true
              endpoint: https://collector.example:4318/
              protocol: http/json
              service_name: gateway-eu
              sample_ratio: 0.25
              export_interval_ms: 500
            """, environment: [:])
        #expect(configuration.tracing.enabled)
        #expect(configuration.tracing.endpoint == "https://collector.example:4318/")
        #expect(configuration.tracing.wireProtocol == .json)
        #expect(configuration.tracing.serviceName == "gateway-eu")
        #expect(configuration.tracing.sampleRatio == 0.25)
        #expect(configuration.tracing.exportIntervalMs == 500)
        #expect(try ConfigurationLoader.parse(yaml: "", environment: [:]).tracing.enabled == false)
    }

    /// A fixture whose gateway exports JSON spans every 100 ms to a local OTLP receiver.
    static func withTracedFixture(_ body: (Fixture, OTLPReceiver) async throws -> Void) async throws {
        let receiver = OTLPReceiver()
        try await receiver.start()
        var failure: (any Error)?
        do {
            try await withFixture(configure: { configuration in
                configuration.tracing.enabled = true
                configuration.tracing.endpoint = receiver.baseURL
                configuration.tracing.wireProtocol = .json
                configuration.tracing.exportIntervalMs = 100
            }) { f in try await body(f, receiver) }
        } catch {
            failure = error
        }
        await receiver.stop()
        if let failure { throw failure }
    }

    /// Polls the receiver until the root spans of `requestIDs` and their children have arrived.
    static func waitForRoots(_ requestIDs: [String], in receiver: OTLPReceiver) async throws -> [OTLPReceiver.Span] {
        for _ in 0..<150 {
            let spans = receiver.received
            let roots = requestIDs.compactMap { id in spans.first { $0.attributes["afterimage.request_id"] == id } }
            if roots.count == requestIDs.count {
                // Children end before their root, so they were batched with or before it.
                return spans
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("spans did not arrive: \(receiver.received.map(\.name))")
        return receiver.received
    }

    /// The direct children of `parent`, in start order (received order within a trace).
    static func children(of parent: OTLPReceiver.Span, in spans: [OTLPReceiver.Span]) -> [OTLPReceiver.Span] {
        spans.filter { $0.traceID == parent.traceID && $0.parentID == parent.spanID }
    }
}
