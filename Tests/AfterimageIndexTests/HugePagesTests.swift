@testable import AfterimageIndex
import Foundation
import Testing

/// The graph's large arrays on transparent huge pages: growth keeps their contents, and a large
/// buffer is advised (`MADV_HUGEPAGE`, shown as `hg` in the mapping's `VmFlags`) before use.
@Suite struct HugePagesTests {
    @Test func reserveKeepsTheElementsAndAtLeastDoubles() {
        var array: [Int32] = Array(0..<1_000)
        let before = array.capacity
        HugePages.reserve(&array, capacity: before + 1)
        #expect(array == Array(0..<1_000))
        #expect(array.capacity >= before * 2)
        let grown = array.capacity
        HugePages.reserve(&array, capacity: 10)
        #expect(array.capacity == grown, "room enough: no new buffer")
        var empty = [Int8]()
        HugePages.reserve(&empty, capacity: 0)
        #expect(empty.isEmpty)
    }

    @Test func arrayIsFilledInPlace() {
        let values: [UInt32] = HugePages.array(count: 3 << 20) { buffer in
            for index in buffer.indices { buffer[index] = UInt32(index) }
        }
        #expect(values.count == 3 << 20)
        #expect(values[0] == 0 && values[12_345] == 12_345 && values[(3 << 20) - 1] == UInt32((3 << 20) - 1))
    }

    @Test func largeBuffersAreAdvised() throws {
        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
        var codes = [Int8]()
        HugePages.reserve(&codes, capacity: 8 << 20)
        codes.append(contentsOf: repeatElement(1, count: 8 << 20))
        let middle = codes.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } + (4 << 20)
        // No THP in this kernel: madvise refuses and nothing is marked.
        guard !mode.isEmpty else { return }
        #expect(try Self.flags(of: middle).contains("hg"))
        // (A small buffer's mapping may carry the flag too: malloc can place it in memory an
        // earlier large buffer advised. Which ranges are advised is checked below.)
    }

    @Test func onlyWholeHugePagesOfLargeBuffersAreAdvised() {
        let page = UInt(HugePages.pageBytes)
        #expect(HugePages.advisedRange(start: 0x7f00_0000_1030, bytes: 64 << 10) == nil, "small: not worth it")
        #expect(HugePages.advisedRange(start: 0x7f00_0000_1030, bytes: (4 << 20) - 1) == nil)
        // 4 MiB from an unaligned start holds one whole huge page.
        let one = HugePages.advisedRange(start: 0x7f00_0000_1030, bytes: 4 << 20)
        #expect(one == 0x7f00_0020_0000..<0x7f00_0040_0000)
        // Aligned: every huge page.
        #expect(HugePages.advisedRange(start: 8 * page, bytes: 6 << 20) == 8 * page..<11 * page)
        // Hostile: a range that wraps the address space.
        #expect(HugePages.advisedRange(start: UInt.max - 100, bytes: 8 << 20) == nil)
        #expect(HugePages.advisedRange(start: UInt.max - page, bytes: 4 << 20) == nil)
    }

    /// The `VmFlags` of the mapping holding `address` (`/proc/self/smaps`).
    static func flags(of address: UInt) throws -> [Substring] {
        // Read to the end: `String(contentsOfFile:)` stops after one read of a proc file.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/smaps") else { return [] }
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "), dash < space,
               let start = UInt(line[..<dash], radix: 16), let end = UInt(line[line.index(after: dash)..<space], radix: 16) {
                inside = start <= address && address < end
            } else if inside, line.hasPrefix("VmFlags:") {
                return line.dropFirst("VmFlags:".count).split(separator: " ")
            }
        }
        return []
    }
}
