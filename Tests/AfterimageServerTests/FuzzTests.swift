import AfterimageCore
import AfterimageTesting
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// Generated hostile bodies against a live server, from a fixed seed: no crash, no answer slower
/// than 5 s, and every answer a success or an OpenAI error envelope. `AFTERIMAGE_FUZZ_SCALE=N`
/// multiplies the counts (and `AFTERIMAGE_FUZZ_SEED` changes the seed) for a longer nightly run.
@Suite struct FuzzTests {
    static let scale = Int(ProcessInfo.processInfo.environment["AFTERIMAGE_FUZZ_SCALE"] ?? "") ?? 1
    static let seed = UInt64(ProcessInfo.processInfo.environment["AFTERIMAGE_FUZZ_SEED"] ?? "") ?? 0xAF7E_5EED

    /// The shared seeded generator with the picks the fuzzer needs.
    struct Random {
        var generator: SplitMix64
        init(state: UInt64) { generator = SplitMix64(seed: state) }
        mutating func next() -> UInt64 { generator.next() }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    static let names = ["model", "prompt", "n", "size", "quality", "style", "user", "stream", "response_format", "fallbacks", "partial_images",
                        "background", "output_format", "input_fidelity", "type", "moderation", "extra", "", "\u{0}", "prompt\u{301}"]
    static let models = ["gpt-image-1", "gpt-image-1-mini", "gpt-image-2", "dall-e-2", "dall-e-3", "nope", "openai/gpt-image-1", "/", ""]
    static let sizes = ["1024x1024", "auto", "256x256", "0x0", "-1x5", "4000000000x4000000000", "1024X1536", "x", "99999999999999999999x1"]

    static func string(_ r: inout Random) -> String {
        switch r.below(6) {
        case 0: return r.pick(models)
        case 1: return r.pick(sizes)
        case 2: return String(repeating: r.pick(["a", "é", "\u{301}", "🦊", "\"", "\\", "\n"]), count: r.below(r.chance(5) ? 5000 : 40))
        case 3: return String(r.next())
        case 4: return r.pick(["true", "false", "url", "b64_json", "low", "high", "auto", "1", "-1", "1e308", "NaN"])
        default: return "a cat \(r.below(1000))"
        }
    }

    static func value(_ r: inout Random, depth: Int) -> JSONValue {
        switch r.below(depth > 3 ? 6 : 9) {
        case 0: return .null
        case 1: return .bool(r.chance(50))
        case 2: return .integer(r.pick([0, 1, -1, 10, 11, Int64.max, Int64.min, Int64(r.below(100))]))
        case 3: return .number(r.pick([1.5, -0.0, 1e300, -1e300, 3.0]))
        case 4, 5: return .string(string(&r))
        case 6, 7: return .array((0..<r.below(4)).map { _ in value(&r, depth: depth + 1) })
        default:
            var object = [String: JSONValue]()
            for _ in 0..<r.below(4) { object[r.pick(names)] = value(&r, depth: depth + 1) }
            return .object(object)
        }
    }

    static func jsonBody(_ r: inout Random) -> Data {
        var object = [String: JSONValue]()
        if r.chance(85) { object["model"] = r.chance(80) ? .string(r.pick(models)) : value(&r, depth: 1) }
        if r.chance(85) { object["prompt"] = r.chance(80) ? .string(string(&r)) : value(&r, depth: 1) }
        for _ in 0..<r.below(6) { object[r.chance(70) ? r.pick(names) : string(&r)] = value(&r, depth: 1) }
        var data = (try? JSONEncoder().encode(JSONValue.object(object))) ?? Data("{}".utf8)
        switch r.below(10) {
        case 0: data = data.prefix(r.below(data.count + 1))  // truncated
        case 1: if !data.isEmpty { data[r.below(data.count)] = UInt8(truncatingIfNeeded: r.next()) }  // a flipped byte
        case 2: data.insert(contentsOf: [0xC3, 0x28, 0xFF], at: r.below(data.count + 1))  // invalid UTF-8
        case 3: data = Data(String(repeating: "[", count: r.below(5000)).utf8)  // deep
        default: break
        }
        return data
    }

    static func formBody(_ r: inout Random) -> (Data, String) {
        let boundary = r.pick(["b", "----x\(r.below(1_000_000))", String(repeating: "z", count: 70), "a\"b", ""])
        var out = Data()
        let png = TestImages.png(width: 64, height: 64, seed: "fuzz")
        for _ in 0..<r.below(8) {
            let name = r.pick(["image", "image[]", "mask", "model", "prompt", "n", "size", "x", ""])
            out.append(Data("--\(boundary)\r\n".utf8))
            var disposition = "Content-Disposition: form-data; name=\"\(name)\""
            if r.chance(40) { disposition += "; filename=\"\(r.pick(["a.png", "", "../../etc/passwd", String(repeating: "f", count: 300)]))\"" }
            if r.chance(90) { out.append(Data("\(disposition)\r\n".utf8)) }
            if r.chance(30) { out.append(Data("Content-Type: \(r.pick(["image/png", "text/plain", ""]))\r\n".utf8)) }
            out.append(Data("\r\n".utf8))
            if name.hasPrefix("image") || name == "mask" {
                out.append(r.chance(70) ? png : png.prefix(r.below(png.count)))
            } else {
                out.append(Data((name == "model" ? r.pick(models) : string(&r)).utf8))
            }
            out.append(Data("\r\n".utf8))
        }
        if r.chance(80) { out.append(Data("--\(boundary)--\r\n".utf8)) }
        if r.chance(15) { out = out.prefix(r.below(out.count + 1)) }
        if r.chance(10), !out.isEmpty { out[r.below(out.count)] = UInt8(truncatingIfNeeded: r.next()) }
        let contentType = r.chance(90) ? "multipart/form-data; boundary=\(boundary)" : r.pick(["multipart/form-data", "text/plain", "multipart/form-data; boundary="])
        return (out, contentType)
    }

    /// A success (200 with `data`, or an event stream that ends in a completed or error event)
    /// or an OpenAI error envelope.
    static func wellFormed(_ reply: TestHTTP.Reply) -> Bool {
        if reply.status == 200, reply.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true {
            let text = String(decoding: reply.body, as: UTF8.self)
            return text.hasPrefix("event: ") && (text.contains("event: image_generation.completed") || text.contains("event: error"))
        }
        if reply.status == 200 { return reply.json["data"]?.arrayValue != nil }
        return reply.json["error"]?["message"]?.stringValue != nil && reply.json["error"]?["code"]?.stringValue != nil && reply.status >= 400 && reply.status < 600
    }

    enum Outcome {
        case answered(TestHTTP.Reply)
        case timedOut(String)
        case failed(String)
    }

    /// How long an answer may take before it counts as a hang: 5 s; 15 s in the PostgreSQL pass,
    /// where every request also waits on a database the whole loaded suite shares.
    static let hangBound: Duration = PostgresCluster.suiteServerURL == nil ? .seconds(5) : .seconds(15)

    /// One body with the hang deadline.
    static func send(_ body: Data, to url: String, headers: [(String, String)]) async -> Outcome {
        let started = ContinuousClock.now
        do {
            return .answered(try await TestHTTP.request(.POST, url, headers: headers, body: .bytes(ByteBuffer(bytes: body)), timeout: Self.hangBound))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            return .timedOut("no answer within \(Self.hangBound) (\(ContinuousClock.now - started))")
        } catch {
            return .failed("\(error) after \(ContinuousClock.now - started)")
        }
    }

    @Test func generatedBodiesNeverCrashHangOrLeaveTheEnvelope() async throws {
        try await withFixture(configure: {
            $0.server.unauthenticatedRPM = 0
        }) { f in
            let jsonCount = 10_000 * Self.scale
            let formCount = 2_000 * Self.scale
            var r = Random(state: Self.seed)
            var jobs = [(Data, String, String)]()
            for _ in 0..<jsonCount { jobs.append((Self.jsonBody(&r), "application/json", "generations")) }
            for _ in 0..<formCount {
                let (body, type) = Self.formBody(&r)
                jobs.append((body, type, "edits"))
            }
            let base = f.base
            let secret = f.secret
            let failures = try await withThrowingTaskGroup(of: [String].self) { group in
                let lanes = 8
                for lane in 0..<lanes {
                    let mine = stride(from: lane, to: jobs.count, by: lanes).map { jobs[$0] }
                    group.addTask {
                        var bad = [String]()
                        for (index, job) in mine.enumerated() {
                            let url = "\(base)/v1/images/\(job.2)"
                            let headers = [("Content-Type", job.1), ("Authorization", "Bearer \(secret)"), ("Cache-Control", "no-store")]
                            var outcome = await Self.send(job.0, to: url, headers: headers)
                            if case .timedOut = outcome {
                                // A hang reproduces; a blip of a loaded test machine does not: the
                                // same body is sent once more, and only a second timeout counts.
                                outcome = await Self.send(job.0, to: url, headers: headers)
                            }
                            switch outcome {
                            case .answered(let reply):
                                if !Self.wellFormed(reply) { bad.append("lane \(lane) #\(index): HTTP \(reply.status) \(String(decoding: reply.body.prefix(200), as: UTF8.self))") }
                            case .timedOut(let error), .failed(let error):
                                bad.append("lane \(lane) #\(index): \(error)")
                            }
                        }
                        return bad
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(failures.isEmpty, "\(failures.count) bad answers, e.g. \(failures.prefix(3))")
            let health = try await f.get("/healthz")
            #expect(health.status == 200)
            #expect(f.stub.servedCount > 0, "some generated bodies were valid and went upstream")
        }
    }
}
