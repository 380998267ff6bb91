import AfterimageCore
import Foundation

/// A replica's bounded disk copy of images it has read from the shared database: at most
/// `maxBytes` in files under `directory`, the least recently used removed first. It is only a
/// cache — emptied at start, and a file that cannot be read or written is simply a miss.
public actor ImageDiskCache {
    let directory: URL
    let maxBytes: Int
    private var sizes: [String: Int] = [:]
    /// Least recently used first (ids; bounded by the bytes bound and the image size floor).
    private var order: [String] = []
    private var total = 0

    public init(directory: URL, maxBytes: Int) throws {
        self.directory = directory
        self.maxBytes = max(0, maxBytes)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func url(_ id: String) -> URL { directory.appendingPathComponent(id) }

    /// The cached bytes of `id`, if present and whole.
    public func get(_ id: String, byteCount: Int) async -> Data? {
        guard let size = sizes[id], size == byteCount else { return nil }
        let path = url(id).path
        guard let data = await BlockingExecutor.io.run({ FileManager.default.contents(atPath: path) }), data.count == byteCount else {
            forget(id)
            return nil
        }
        touch(id)
        return data
    }

    /// Keeps a copy of `data` unless it alone exceeds the bound; evicts to stay within it.
    public func put(_ id: String, _ data: Data) async {
        guard sizes[id] == nil, data.count <= maxBytes, data.count > 0 else { return }
        let target = url(id)
        do {
            try await BlockingExecutor.io.run { try data.write(to: target, options: .atomic) }
        } catch {
            return
        }
        guard sizes[id] == nil else { return }
        sizes[id] = data.count
        order.append(id)
        total += data.count
        while total > maxBytes, let oldest = order.first {
            forget(oldest)
        }
    }

    /// Bytes held now.
    public var bytes: Int { total }

    private func touch(_ id: String) {
        if let index = order.lastIndex(of: id) {
            order.remove(at: index)
            order.append(id)
        }
    }

    private func forget(_ id: String) {
        guard let size = sizes.removeValue(forKey: id) else { return }
        total -= size
        order.removeAll { $0 == id }
        try? FileManager.default.removeItem(at: url(id))
    }
}
