import AfterimageEmbedding
import Foundation
import Testing

@Suite struct SafetensorsTests {
    func write(_ bytes: Data) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString).safetensors").path
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    func file(header: String, payload: Data) -> Data {
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(payload)
        return data
    }

    @Test func readsF32AndF16() throws {
        var payload = Data()
        for value: Float in [1, -2, 3.5] { withUnsafeBytes(of: value.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
        for value: Float16 in [0.5, -1] { withUnsafeBytes(of: value.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F16","shape":[2],"data_offsets":[12,16]},"__metadata__":{"format":"pt"}}"#
        let tensors = try Safetensors(path: try write(file(header: header, payload: payload)))
        #expect(try tensors.floats("a", shape: [3]) == [1, -2, 3.5])
        #expect(try tensors.floats("b") == [0.5, -1])
        #expect(throws: Safetensors.FormatError.self) { try tensors.floats("a", shape: [4]) }
        #expect(throws: Safetensors.FormatError.self) { try tensors.floats("missing") }
    }

    @Test func truncatedFilesGiveAClearError() throws {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#
        let path = try write(file(header: header, payload: Data(count: 8)))
        do {
            _ = try Safetensors(path: path)
            Issue.record("a truncated file was accepted")
        } catch let error as Safetensors.FormatError {
            #expect(error.description.contains(".safetensors"))
            #expect(error.problem.contains("truncated"))
        }
    }

    @Test(arguments: [Data(), Data([1, 2, 3]), Data([255, 255, 255, 255, 0, 0, 0, 0, 1])])
    func garbageIsRefusedNotCrashed(_ bytes: Data) throws {
        #expect(throws: Safetensors.FormatError.self) { _ = try Safetensors(path: try write(bytes)) }
    }

    @Test func badHeadersAreRefused() throws {
        for header in ["not json", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#, #"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}"#] {
            #expect(throws: Safetensors.FormatError.self) {
                _ = try Safetensors(path: try write(file(header: header, payload: Data(count: 12))))
            }
        }
    }
}
