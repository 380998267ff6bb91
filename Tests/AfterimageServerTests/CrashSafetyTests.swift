import AfterimageCore
import AfterimagePostgres
import AfterimageServer
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

/// Two `afterimage serve` replicas on one PostgreSQL database; one is killed with SIGKILL under load.
@Suite struct ReplicaCrashTests {
    @Test func aKilledReplicaLosesNoSuccessAndTheOtherKeepsServing() async throws {
        try CommandLineTests.requireBinary()
        let (url, own) = try await PostgresCluster.testDatabase()
        let stub = StubUpstream()
        try await stub.start()
        let stores = try await Stores.openPostgres(PostgresSettings(url: url, poolSize: 2, tls: .disable), diskCache: nil, logger: .init(label: "replica-crash"))
        let secret = KeySecret.generate()
        _ = try await stores.keys.create(name: "replicas", namespace: nil, allowedModels: nil, expiresAt: nil, secret: secret)
        let a = try await LiveServer.start(stub: stub, databaseURL: url, secret: secret)
        let b = try await LiveServer.start(stub: stub, databaseURL: url, secret: secret)
        stub.inject((0..<40).map { .delay(.milliseconds(20 * $0)) })

        let fromA = Succeeded()
        let fromB = Succeeded()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                let (target, log) = index % 2 == 0 ? (a, fromA) : (b, fromB)
                group.addTask {
                    let body: JSONValue = ["model": "gpt-image-1", "prompt": .string("replica crash \(index)")]
                    // Generous: the point is that B answers every request, not how fast two debug
                    // servers answer on a loaded 2-core runner (15 s was not always enough).
                    guard let reply = try? await TestHTTP.postJSON("\(target.base)/v1/images/generations", body, key: secret, timeout: .seconds(60)),
                          reply.status == 200, let id = reply.headers.first(name: "x-request-id") else { return }
                    let count = log.ids.withLock { $0.append(id); return $0.count }
                    if target.base == a.base, count == 5 { a.process.kill() }
                }
            }
            try await group.waitForAll()
        }
        a.process.kill()
        // Every 200 A answered has its row; B kept serving all along and still does.
        for id in fromA.ids.withLock({ $0 }) {
            #expect(try await stores.ledger.row(requestID: id)?.status == 200, "\(id) answered 200 by the killed replica but has no ledger row")
        }
        #expect(fromA.ids.withLock { $0.count } >= 5)
        #expect(fromB.ids.withLock { $0.count } == 20)
        let after = try await TestHTTP.postJSON("\(b.base)/v1/images/generations", ["model": "gpt-image-1", "prompt": "after the crash"], key: secret)
        #expect(after.status == 200)
        // A restarts and catches up: what B stored meanwhile is a hit through A.
        let restarted = try await LiveServer.start(stub: stub, databaseURL: url, secret: secret)
        let hit = try await TestHTTP.postJSON("\(restarted.base)/v1/images/generations", ["model": "gpt-image-1", "prompt": "after the crash"], key: secret)
        #expect(hit.status == 200 && hit.headers.first(name: "x-afterimage-cache") == "hit-direct")
        restarted.remove()
        b.remove()
        a.remove()
        stores.close()
        await stub.stop()
        await own?.stop()
    }
}
