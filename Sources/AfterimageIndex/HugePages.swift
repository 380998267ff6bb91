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
        guard !overflow, let base = buffer.baseAddress, let range = advisedRange(start: UInt(bitPattern: base), bytes: bytes),
              let pointer = UnsafeMutableRawPointer(bitPattern: range.lowerBound) else { return }
        #if canImport(Glibc)
        _ = madvise(pointer, Int(range.upperBound - range.lowerBound), MADV_HUGEPAGE)
        #endif
    }

    /// The whole huge pages inside `bytes` bytes from `start`, or nil when the buffer is smaller
    /// than two huge pages (too little to gain) or its end wraps around.
    static func advisedRange(start first: UInt, bytes: Int) -> Range<UInt>? {
        guard bytes >= 2 * pageBytes else { return nil }
        let mask = UInt(pageBytes - 1)
        let (last, wrapped) = first.addingReportingOverflow(UInt(bytes))
        let (rounded, roundWrapped) = first.addingReportingOverflow(mask)
        guard !wrapped, !roundWrapped else { return nil }
        let start = rounded & ~mask, end = last & ~mask
        return end > start ? start..<end : nil
    }
}
