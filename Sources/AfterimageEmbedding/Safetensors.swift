import Foundation

/// A safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets}}`, then the raw tensor bytes.
public struct Safetensors: Sendable {
    /// Why a file could not be read; the description names the file and the problem.
    public struct FormatError: Error, CustomStringConvertible, Equatable {
        public let file: String
        public let problem: String
        public var description: String { "\(file): \(problem)" }
    }

    /// One tensor's header entry.
    public struct TensorInfo: Sendable, Equatable {
        public var dtype: String
        public var shape: [Int]
        /// Byte range within the data section.
        public var start: Int
        public var end: Int
        public var elementCount: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let tensors: [String: TensorInfo]
    private let data: Data
    private let dataStart: Int

    /// Maps the file and validates its header and every tensor's byte range.
    public init(path: String) throws {
        self.path = path
        let name = (path as NSString).lastPathComponent
        func fail(_ problem: String) -> FormatError { FormatError(file: name, problem: problem) }
        let mapped: Data
        do {
            mapped = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw fail("cannot read the file (\(error.localizedDescription))")
        }
        guard mapped.count >= 8 else { throw fail("truncated: \(mapped.count) bytes, no header length") }
        let headerLength = mapped.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength > 1, headerLength <= 100_000_000, 8 + Int(headerLength) <= mapped.count else {
            throw fail("header length \(headerLength) does not fit in a file of \(mapped.count) bytes")
        }
        let headerData = mapped.subdata(in: 8..<(8 + Int(headerLength)))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = mapped.count - dataStart
        var tensors = [String: TensorInfo]()
        for (key, value) in header where key != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("tensor '\(key)' has a malformed header entry") }
            let info = TensorInfo(dtype: dtype, shape: shape, start: offsets[0], end: offsets[1])
            guard let width = Self.byteWidth(dtype) else { throw fail("tensor '\(key)' has unsupported dtype \(dtype)") }
            guard shape.allSatisfy({ $0 >= 0 }), info.start >= 0, info.end >= info.start,
                  info.end - info.start == info.elementCount * width
            else { throw fail("tensor '\(key)': shape \(shape) does not match its byte range \(offsets)") }
            guard info.end <= dataSize else {
                throw fail("truncated: tensor '\(key)' ends at byte \(info.end) of a \(dataSize)-byte data section")
            }
            tensors[key] = info
        }
        self.tensors = tensors
        self.data = mapped
        self.dataStart = dataStart
    }

    static func byteWidth(_ dtype: String) -> Int? {
        switch dtype {
        case "F32": return 4
        case "F16", "BF16": return 2
        case "I64": return 8
        default: return nil
        }
    }

    /// A tensor as float32 (F16 and BF16 are widened), checking its shape.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> [Float] {
        let file = (path as NSString).lastPathComponent
        guard let info = tensors[name] else { throw FormatError(file: file, problem: "tensor '\(name)' is missing") }
        if let expected, expected != info.shape {
            throw FormatError(file: file, problem: "tensor '\(name)' has shape \(info.shape), expected \(expected)")
        }
        guard ["F32", "F16", "BF16"].contains(info.dtype) else {
            throw FormatError(file: file, problem: "tensor '\(name)' is \(info.dtype), not a float type")
        }
        let count = info.elementCount
        return data.withUnsafeBytes { raw -> [Float] in
            let base = raw.baseAddress!.advanced(by: dataStart + info.start)
            switch info.dtype {
            case "F32":
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    memcpy(buffer.baseAddress!, base, count * 4)
                    initialized = count
                }
            case "F16":
                return (0..<count).map { i in Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
            case "BF16":
                return (0..<count).map { i in Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16) }
            default:
                return []
            }
        }
    }
}
