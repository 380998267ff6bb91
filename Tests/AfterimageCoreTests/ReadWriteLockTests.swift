import AfterimageCore
import Dispatch
import Testing

/// Writers are exclusive, readers see whole states only, and a reader does not copy the value.
@Suite struct ReadWriteLockTests {
    @Test func writersAreExclusiveAndReadersSeeWholeStates() {
        let lock = ReadWriteLock<[Int]>([0, 0])
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for _ in 0..<2_000 {
                if worker % 2 == 0 {
                    lock.write { pair in
                        pair[0] += 1
                        pair[1] += 1
                    }
                } else {
                    let (first, second) = lock.read { ($0[0], $0[1]) }
                    #expect(first == second, "a reader never sees half a write")
                }
            }
        }
        #expect(lock.read { $0 } == [8_000, 8_000])
    }

    @Test func aWriteAfterReadsMutatesInPlace() {
        let lock = ReadWriteLock<[Int]>(Array(repeating: 1, count: 1_000))
        let before = lock.read { $0.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        _ = lock.read { $0.reduce(0, +) }
        lock.write { $0[0] = 2 }
        let after = lock.read { $0.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        #expect(before == after, "no copy-on-write duplicate: readers hold no reference once they return")
    }
}
