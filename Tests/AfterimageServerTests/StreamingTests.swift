import AfterimageCore
import AfterimageTesting
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import Testing

/// `stream=true`: SSE pass-through on a miss, capture into the cache and the ledger, replay on a
/// hit, errors mid-stream and a disconnecting client.
@Suite struct StreamingTests {
    struct Event {
        var name: String
        var data: JSONValue
    }

    func ledger(_ f: Fixture, _ reply: TestHTTP.Reply) async throws -> UsageRecord {
        let id = try #require(reply.headers.first(name: "x-request-id"))
        return try #require(try await f.gateway.ledgerRow(id))
    }

    static func events(_ body: Data) -> [Event] {
        String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n").compactMap { block in
            var name = "", data = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data += line.dropFirst(6) }
            }
            guard !name.isEmpty else { return nil }
            return Event(name: name, data: (try? JSONDecoder().decode(JSONValue.self, from: Data(data.utf8))) ?? .null)
        }
    }

    @Test func missStreamsPartialsThenCompletedAndAHitReplays() async throws {
        try await withFixture { f in
            let request: [String: JSONValue] = ["model": "gpt-image-1", "prompt": "a paper boat on a puddle", "stream": true, "partial_images": 2, "size": "1024x1024", "quality": "medium"]
            let miss = try await f.generate(request)
            #expect(miss.status == 200 && miss.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
            #expect(miss.headers.first(name: "x-afterimage-cache") == "miss")
            let events = Self.events(miss.body)
            #expect(events.map(\.name) == ["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"])
            try #require(events.count == 3)
            #expect(events.allSatisfy { $0.data["type"]?.stringValue == $0.name })
            #expect(events[1].data["partial_image_index"] == 1 && events[0].data["b64_json"]?.stringValue?.isEmpty == false)
            let completed = events[2].data
            #expect(completed["usage"]?["output_tokens"] == 1256 && completed["size"] == "1024x1024")
            #expect(completed["extra_fields"]?["cache_debug"]?["cache_hit"] == false)
            #expect(f.stub.received.last?.fields["stream"] == true && f.stub.received.last?.fields["partial_images"] == 2)

            let id = try #require(miss.headers.first(name: "x-request-id"))
            let row = try #require(try await f.gateway.ledgerRow(id))
            // 6 text tokens × $5 + 1256 image output tokens × $40 per 1M = 30 + 50240 µ$.
            #expect(row.status == 200 && row.usageSource == "upstream" && row.imageOutputTokens == 1256 && row.cost?.usdString == "0.050270")
            #expect(row.images == 1 && row.cacheEntryID != nil)

            let hit = try await f.generate(request)
            let replay = Self.events(hit.body)
            #expect(replay.map(\.name) == ["image_generation.completed"], "no invented partial images")
            #expect(replay.first?.data["b64_json"] == completed["b64_json"])
            #expect(replay.first?.data["usage"]?["output_tokens"] == 0)
            #expect(replay.first?.data["extra_fields"]?["cache_debug"]?["hit_type"] == "direct")
            let hitRow = try await ledger(f, hit)
            #expect(hitRow.cache == .direct && hitRow.saved.usdString == "0.050270")
            // The captured answer serves non-streamed requests too.
            let plain = try await f.generate(["model": "gpt-image-1", "prompt": "a paper boat on a puddle", "size": "1024x1024", "quality": "medium"])
            #expect(plain.headers.first(name: "x-afterimage-cache") == "hit-direct" && imageBytes(plain) != nil)
            #expect(f.stub.servedCount == 1)
        }
    }

    @Test func editsStreamAndEstimatesCountPartialImages() async throws {
        try await withFixture { f in
            f.stub.sendUsage(false)
            var form = TestHTTP.Form()
            form.field("model", "gpt-image-1")
            form.field("prompt", "add a kite")
            form.field("stream", "true")
            form.field("partial_images", "3")
            form.field("quality", "low")
            form.field("size", "1024x1024")
            form.file("image", filename: "in.png", data: TestImages.png(width: 512, height: 512, seed: "stream-edit"), contentType: "image/png")
            let reply = try await f.edit(form)
            let events = Self.events(reply.body)
            #expect(events.map(\.name) == ["image_edit.partial_image", "image_edit.partial_image", "image_edit.partial_image", "image_edit.completed"])
            let row = try await ledger(f, reply)
            // Estimated: 272 (1024² low) + 3 × 100 partial images; the 512² input image is one tile: 65 + 129.
            #expect(row.usageSource == "estimated" && row.imageOutputTokens == 572 && row.imageInputTokens == 194)
        }
    }

    @Test func upstreamFailuresMidStreamBecomeErrorEvents() async throws {
        try await withFixture(configure: { $0.upstream.maxAttempts = 1 }) { f in
            f.stub.inject([StubUpstream.Fault(streamError: true)])
            let failed = try await f.generate(["model": "gpt-image-1", "prompt": "doomed stream", "stream": true, "partial_images": 1])
            let events = Self.events(failed.body)
            #expect(events.map(\.name) == ["image_generation.partial_image", "error"])
            #expect(events.last?.data["type"] == "error" && events.last?.data["error"]?["code"] == "server_error")
            #expect(events.last?.data["error"]?["message"]?.stringValue?.contains("mid-stream") == true)
            let row = try await ledger(f, failed)
            #expect(row.status == 502 && row.errorCode == "server_error" && row.imageOutputTokens == 100 && row.usageSource == "estimated")

            f.stub.inject([StubUpstream.Fault(breakStreamAfter: 1)])
            let broken = try await f.generate(["model": "gpt-image-1", "prompt": "broken stream", "stream": true, "partial_images": 2])
            let brokenEvents = Self.events(broken.body)
            #expect(brokenEvents.first?.name == "image_generation.partial_image" && brokenEvents.last?.name == "error")
            #expect(brokenEvents.last?.data["error"]?["code"] == "upstream_unavailable")
            #expect(try await ledger(f, broken).status == 503)
            // Nothing was cached from the failures.
            let again = try await f.generate(["model": "gpt-image-1", "prompt": "doomed stream", "stream": true])
            #expect(again.headers.first(name: "x-afterimage-cache") == "miss" && Self.events(again.body).last?.name == "image_generation.completed")

            #expect(try await f.generate(["model": "dall-e-3", "prompt": "x", "stream": true]).errorParam == "stream")
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "x", "stream": true, "partial_images": 4]).errorParam == "partial_images")
            #expect(try await f.generate(["model": "gpt-image-1", "prompt": "x", "stream": "yes"]).errorParam == "stream")
        }
    }

    @Test func aClientThatDisconnectsStillGetsTheAnswerCachedAndMetered() async throws {
        try await withFixture { f in
            // The stub holds every stream after its first event until released, so the hang-up
            // lands mid-stream however loaded the machine is (a 400 ms gap alone was not enough in
            // a loaded CI pass: the whole stream was written before the client's close was seen).
            f.stub.holdStreamsAfterFirstEvent(true)
            f.stub.setStreamGap(.milliseconds(400))
            var request = HTTPClientRequest(url: "\(f.base)/v1/images/generations")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(f.secret)")
            request.headers.add(name: "Content-Type", value: "application/json")
            let body: JSONValue = ["model": "gpt-image-1", "prompt": "a kite in a storm", "stream": true, "partial_images": 3]
            request.body = .bytes(ByteBuffer(data: try JSONEncoder.afterimage.encode(body)))
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let response = try await client.execute(request, timeout: .seconds(30))
            let requestID = try #require(response.headers.first(name: "x-request-id"))
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next() // the first partial image, then hang up
            try await client.shutdown()
            f.stub.holdStreamsAfterFirstEvent(false)

            var row: UsageRecord?
            for _ in 0..<100 where row == nil {
                try await Task.sleep(for: .milliseconds(100))
                row = try await f.gateway.ledgerRow(requestID)
            }
            let recorded = try #require(row, "the disconnected stream has a ledger row")
            #expect(recorded.status == 499 && recorded.errorCode == "client_disconnected", "status \(recorded.status), \(recorded.errorCode ?? "-")")
            #expect(recorded.imageOutputTokens == 1356 && recorded.cost != nil, "the upstream was finished and billed")
            let hit = try await f.generate(["model": "gpt-image-1", "prompt": "a kite in a storm"])
            #expect(hit.headers.first(name: "x-afterimage-cache") == "hit-direct", "it is already paid for, so it was stored")

            // With no-store there is nothing to keep: the upstream call is cancelled.
            f.stub.holdStreamsAfterFirstEvent(true)
            let cancelled = try await disconnectAfterFirstEvent(f, ["model": "gpt-image-1", "prompt": "a kite in the fog", "stream": true, "partial_images": 3], headers: [("Cache-Control", "no-store")])
            f.stub.holdStreamsAfterFirstEvent(false)
            var cancelledRow: UsageRecord?
            for _ in 0..<100 where cancelledRow == nil {
                try await Task.sleep(for: .milliseconds(100))
                cancelledRow = try await f.gateway.ledgerRow(cancelled)
            }
            let recordedCancel = try #require(cancelledRow)
            #expect(recordedCancel.status == 499 && recordedCancel.usageSource == "estimated" && recordedCancel.images == 0)
            #expect(recordedCancel.imageOutputTokens < 1356 && recordedCancel.imageOutputTokens % 100 == 0)
        }
    }

    /// Sends a streamed request, reads the first chunk and hangs up; returns the request id.
    func disconnectAfterFirstEvent(_ f: Fixture, _ body: JSONValue, headers: [(String, String)] = []) async throws -> String {
        var request = HTTPClientRequest(url: "\(f.base)/v1/images/generations")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(f.secret)")
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(data: try JSONEncoder.afterimage.encode(body)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let response = try await client.execute(request, timeout: .seconds(30))
        let requestID = try #require(response.headers.first(name: "x-request-id"))
        var iterator = response.body.makeAsyncIterator()
        _ = try await iterator.next()
        try await client.shutdown()
        return requestID
    }

    @Test(.enabled(if: OpenAISDKTests.python != nil || ProcessInfo.processInfo.environment["CI"] != nil))
    func theOpenAISDKStreams() async throws {
        let python = try #require(OpenAISDKTests.python, "no python venv: run `make test`")
        try await withFixture { f in
            let image = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).png")
            try TestImages.png(width: 256, height: 256, seed: "sdk-stream").write(to: image)
            let outcome = try await ChildProcess.run(python, [
                OpenAISDKTests.packageRoot.appendingPathComponent("Tests/sdk/stream_check.py").path, f.base, f.secret, image.path,
            ])
            #expect(outcome.status == 0 && outcome.stdout.contains("stream checks passed"), "\(outcome.stdout)\(outcome.stderr)")
        }
    }
}
