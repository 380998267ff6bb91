import Foundation

/// Facts about and settings of the BLAS library loaded at run time (OpenBLAS when
/// `libopenblas0-pthread` provides `libblas.so.3`, otherwise the reference BLAS).
///
/// OpenBLAS's own thread pool must not be used while several threads call BLAS at once (the
/// server's request tasks do): that can deadlock. Every entry point sets the thread count first
/// (`setThreads(1)`), before any BLAS call; parallelism comes from the embedding lanes.
public enum BLASRuntime {
    private typealias SetThreads = @convention(c) (Int32) -> Void
    private typealias GetConfig = @convention(c) () -> UnsafePointer<CChar>?

    /// Sets OpenBLAS's thread count (no-op for a BLAS without threads); returns whether it applied.
    @discardableResult
    public static func setThreads(_ count: Int) -> Bool {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "openblas_set_num_threads") else { return false }
        unsafeBitCast(symbol, to: SetThreads.self)(Int32(max(1, count)))
        return true
    }

    /// A description of the loaded BLAS, e.g. `OpenBLAS 0.3.21 … Haswell` or `reference BLAS`.
    public static var implementation: String {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "openblas_get_config"),
              let text = unsafeBitCast(symbol, to: GetConfig.self)()
        else { return "reference BLAS (or another non-OpenBLAS library)" }
        return "OpenBLAS " + String(cString: text)
    }
}
