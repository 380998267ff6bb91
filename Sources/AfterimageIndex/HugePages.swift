#if canImport(Glibc)
import Glibc
#endif

/// The graph's large arrays that searches read at random — int8 codes, layer-0 links, visit
/// stamps — on 2 MiB transparent huge pages where the kernel offers them (`madvise` mode, as on
/// Debian). With 4 KiB pages nearly every node a search touches costs a TLB miss (a 1M-node graph
/// spans ~130,000 pages; the TLB holds a few thousand), and on a VM each miss is a two-level page
/// walk. A page is made huge only when first touched, so the advice is given on a new buffer
/// before anything is written to it. Where the kernel refuses (THP off, another OS), nothing
/// changes but the page size.
enum HugePages {
    static let pageBytes = 2 << 20

    /// Makes room in `array` for `needed` elements: a new buffer (at least double the old one, so
    /// appends stay amortised O(1)) advised for huge pages before the old elements move in.
    static func reserve<T: BitwiseCopyable>(_ array: inout [T], capacity needed: Int) {
        guard needed > array.capacity else { return }
        let (doubled, overflow) = array.capacity.multipliedReportingOverflow(by: 2)
        let old = array
        array = [T](unsafeUninitializedCapacity: overflow ? needed : max(needed, doubled)) { buffer, initialized in
            advise(buffer)
            old.withUnsafeBufferPointer { source in
                guard let from = source.baseAddress, let to = buffer.baseAddress else { return }
                to.initialize(from: from, count: source.count)
            }
            initialized = old.count
        }
    }

    /// An array of `count` elements written by `fill` into a buffer advised for huge pages first.
    static func array<T: BitwiseCopyable>(count: Int, _ fill: (UnsafeMutableBufferPointer<T>) throws -> Void) rethrows -> [T] {
        try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            advise(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            try fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
    }

    /// Advises the 2 MiB-aligned part of `buffer` when it spans at least two huge pages.
    static func advise<T>(_ buffer: UnsafeMutableBufferPointer<T>) {
        let (bytes, overflow) = buffer.count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow, bytes >= 2 * pageBytes, let base = buffer.baseAddress else { return }
        let mask = UInt(pageBytes - 1)
        let first = UInt(bitPattern: base), (last, wrapped) = first.addingReportingOverflow(UInt(bytes))
        guard !wrapped else { return }
        let start = (first + mask) & ~mask, end = last & ~mask
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        #if canImport(Glibc)
        _ = madvise(pointer, Int(end - start), MADV_HUGEPAGE)
        #endif
    }
}
