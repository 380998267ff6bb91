import AfterimageCore
import AfterimageTesting
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Connections under hostile clients: idle connections are closed while others are served.
@Suite struct ConnectionLimitsTests {
    @Test func slowlorisConnectionsAreClosedAfterTheIdleTimeout() async throws {
        try await withFixture(configure: { $0.server.idleTimeoutSeconds = 3 }) { f in
            let port = try #require(URL(string: f.base)?.port)
            var channels = [any Channel]()
            for index in 0..<200 {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
                // Half a request head, then nothing (or a body that never comes).
                let head = index.isMultiple(of: 2)
                    ? "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nX-Slow: "
                    : "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"mo"
                // On a loaded machine the server may already have closed it as idle: that is fine.
                try? await channel.writeAndFlush(ByteBuffer(string: head)).get()
                channels.append(channel)
            }
            let opened = ContinuousClock.now
            // Meanwhile ordinary clients are served.
            let (_, secret) = try await f.gateway.createKey(name: "ordinary")
            for index in 0..<5 {
                let reply = try await f.generate(["model": "gpt-image-1", "prompt": .string("served while idle connections wait \(index)")], key: secret)
                #expect(reply.status == 200)
            }
            while channels.contains(where: \.isActive), ContinuousClock.now - opened < .seconds(15) {
                try await Task.sleep(for: .milliseconds(100))
            }
            let open = channels.filter(\.isActive).count
            #expect(open == 0, "\(open) of 200 idle connections still open after \(ContinuousClock.now - opened)")
            for channel in channels { try? await channel.close() }
            #expect(try await f.get("/healthz").status == 200)
        }
    }
}


/// Many concurrent large uploads cannot grow the server past a fixed memory bound. Five gigabytes
/// through loopback and the disk: `scripts/test.sh` runs this suite in the pass without
/// timing-bound tests (it once stalled a shared PostgreSQL server for 20 s beside them).
@Suite struct LargeUploadTests {
    /// The chunks of one upload: a multipart head, a PNG, `filler` zero bytes, the closing part.
    struct UploadBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let head: ByteBuffer
        let tail: ByteBuffer
        let filler: Int
        static let chunk = ByteBuffer(repeating: 0, count: 1 << 20)

        var length: Int { head.readableBytes + filler + tail.readableBytes }

        struct AsyncIterator: AsyncIteratorProtocol {
            let body: UploadBody
            var sentHead = false
            var remaining: Int
            var sentTail = false

            mutating func next() async -> ByteBuffer? {
                if !sentHead {
                    sentHead = true
                    return body.head
                }
                if remaining > 0 {
                    let size = Swift.min(remaining, UploadBody.chunk.readableBytes)
                    remaining -= size
                    return UploadBody.chunk.getSlice(at: 0, length: size)
                }
                if !sentTail {
                    sentTail = true
                    return body.tail
                }
                return nil
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self, remaining: filler) }

        /// An edit whose image is a small PNG padded with zeros to `imageBytes`.
        static func edit(imageBytes: Int, boundary: String = "afterimage-upload") -> UploadBody {
            let png = TestImages.png(width: 64, height: 64, seed: "upload")
            var head = ""
            for (name, value) in [("model", "gpt-image-1"), ("prompt", "a hat on the big upload")] {
                head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
            }
            head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n"
            var headBuffer = ByteBuffer(string: head)
            headBuffer.writeBytes(png)
            return UploadBody(head: headBuffer, tail: ByteBuffer(string: "\r\n--\(boundary)--\r\n"), filler: imageBytes - png.count)
        }
    }

    /// The upload's status code, or the error it failed with.
    static func send(_ upload: UploadBody, to url: String, key: String, with client: HTTPClient) async -> String {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=afterimage-upload")
        request.body = .stream(upload, length: .known(Int64(upload.length)))
        do {
            let response = try await client.execute(request, timeout: .seconds(600))
            _ = try await response.body.collect(upTo: 16 << 20)
            return "\(response.status.code)"
        } catch {
            return "\(error)"
        }
    }

    @Test
    func aHundredConcurrentFiftyMegabyteUploadsStayUnderOneGiB() async throws {
        try CommandLineTests.requireBinary()
        let stub = StubUpstream()
        try await stub.start()
        let live = try await LiveServer.start(stub: stub, extraServer: ["body_memory_wait_seconds: 600", "idle_timeout_seconds: 900"])
        defer { live.remove() }
        let baseline = try #require(live.process.statusKiB("VmRSS"))
        let client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128))
        )
        let upload = UploadBody.edit(imageBytes: 50_000_000)
        // Failures are collected, not thrown: the client must be shut down whatever happens.
        let statuses = await withTaskGroup(of: String.self) { group in
            for _ in 0..<100 {
                group.addTask { await Self.send(upload, to: "\(live.base)/v1/images/edits", key: live.secret, with: client) }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        try await client.shutdown()
        let peak = try #require(live.process.statusKiB("VmHWM"))
        print("100 × 50 MB uploads: statuses \(statuses), server RSS baseline \(baseline / 1024) MiB, peak \(peak / 1024) MiB")
        #expect(statuses == ["200": 100], "every upload answered")
        #expect(peak <= 1 << 20, "peak RSS \(peak / 1024) MiB")
        // Identical uploads: one went upstream, the rest were answered from the cache.
        #expect(stub.servedCount == 1)
        await stub.stop()
    }
}
