import AfterimageCore
import AfterimageStorage
import AfterimageTesting
import Foundation
import Synchronization
import Testing

/// Nothing is lost: a response reported as successful always has its committed ledger row, even
/// when the server is killed (SIGKILL) with requests in flight.
@Suite struct CrashSafetyTests {
    @Test
    func everySuccessSurvivesSIGKILL() async throws {
        try CommandLineTests.requireBinary()
        let stub = StubUpstream()
        try await stub.start()
        let live = try await LiveServer.start(stub: stub)
        let (server, base, secret) = (live.process, live.base, live.secret)
        // Staggered upstream delays keep requests in flight when the kill lands.
        stub.inject((0..<40).map { .delay(.milliseconds(20 * $0)) })

        let succeeded = Succeeded()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let body: JSONValue = ["model": "gpt-image-1", "prompt": .string("crash test \(index)")]
                    guard let reply = try? await TestHTTP.postJSON("\(base)/v1/images/generations", body, key: secret, timeout: .seconds(15)),
                          reply.status == 200, let id = reply.headers.first(name: "x-request-id") else { return }
                    let count = succeeded.ids.withLock { $0.append(id); return $0.count }
                    if count == 10 { server.kill() }
                }
            }
            try await group.waitForAll()
        }
        server.kill()
        let ids = succeeded.ids.withLock { $0 }
        #expect(ids.count >= 10)
        #expect(stub.servedCount < 40 || ids.count == 40)
        // Reopen the database as a restarted server would (WAL replay) and look for every row.
        let reopened = SQLiteUsageLedger(database: try AppDatabase.open(dataDirectory: live.dataDirectory))
        for id in ids {
            let row = try await reopened.row(requestID: id)
            #expect(row?.status == 200, "\(id) answered 200 but has no ledger row")
        }
        live.remove()
        await stub.stop()
    }
}

/// Request ids answered with 200, collected across tasks.
final class Succeeded: Sendable {
    let ids = Mutex<[String]>([])
}
