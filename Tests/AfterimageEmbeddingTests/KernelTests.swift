import AfterimageCore
import CKernels
import Testing

/// Our SIMD kernels against plain double-precision arithmetic, on both code paths (AVX2 where the
/// CPU has it, the portable loops always), with shapes that leave partial panels and row blocks.
@Suite(.serialized) struct KernelTests {
    /// Values of mixed sign and magnitude from a seeded generator.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Int64(random.next() % 2_000_001) - 1_000_000) / 250_000 }
    }

    /// Every path, whether or not this CPU has it (a missing one runs as portable loops with the
    /// same arithmetic): the AVX-512 BF16 path also rounds the activations, so the expectation does.
    @Test(arguments: [AK_PATH_PORTABLE, AK_PATH_AVX2, AK_PATH_AVX512BF16, AK_PATH_AUTO].map { Int32($0) })
    func bfloat16ProductMatchesDoubleArithmetic(path: Int32) {
        let bf16 = Int32(AK_PATH_AVX512BF16)
        let roundsActivations = path == bf16 || (path == Int32(AK_PATH_AUTO) && ak_best_path() == bf16)
        for (rows, inputs, outputs) in [(1, 384, 1152), (7, 40, 37), (13, 5, 16), (6, 33, 1), (25, 1536, 48)] {
            let x = Self.values(rows * inputs, seed: 1), w = Self.values(inputs * outputs, seed: 2), bias = Self.values(outputs, seed: 3)
            var packed = [UInt16](repeating: 0xFFFF, count: ak_packed_count(inputs, outputs))
            ak_pack_bf16(w, inputs, outputs, path, &packed)
            // What the kernel multiplies by: the weights rounded to bfloat16.
            var rounded = [UInt16](repeating: 0, count: w.count), widened = [Float](repeating: 0, count: w.count)
            ak_f32_to_bf16(w, &rounded, w.count)
            ak_bf16_to_f32(rounded, &widened, w.count)
            var xRounded = [UInt16](repeating: 0, count: x.count), xUsed = x
            if roundsActivations {
                ak_f32_to_bf16(x, &xRounded, x.count)
                ak_bf16_to_f32(xRounded, &xUsed, x.count)
            }
            var y = (0..<rows).flatMap { _ in bias }
            ak_gemm_bf16(x, rows, inputs, packed, outputs, path, &y)
            var worst = 0.0
            for r in 0..<rows {
                for o in 0..<outputs {
                    var expected = Double(bias[o]), magnitude = abs(Double(bias[o]))
                    for k in 0..<inputs {
                        expected += Double(xUsed[r * inputs + k]) * Double(widened[k * outputs + o])
                        magnitude += abs(Double(xUsed[r * inputs + k]) * Double(widened[k * outputs + o]))
                    }
                    worst = max(worst, abs(Double(y[r * outputs + o]) - expected) / max(magnitude, 1e-30))
                }
            }
            #expect(worst < 1e-5, "path \(path) rows \(rows) inputs \(inputs) outputs \(outputs): relative error \(worst)")
        }
    }

    @Test func bfloat16RoundsToNearestEvenAndKeepsNaN() {
        let inputs: [Float] = [1, 1.00390625, 1.01171875, -2.5, .infinity, .nan, 3.0e38, 0]
        var out = [UInt16](repeating: 0, count: inputs.count)
        ak_f32_to_bf16(inputs, &out, inputs.count)
        #expect(out[0] == 0x3F80)
        #expect(out[1] == 0x3F80)  // exactly half-way: ties to even (down)
        #expect(out[2] == 0x3F82)  // half-way above an odd mantissa: up to even
        #expect(out[3] == 0xC020)
        #expect(out[4] == 0x7F80)
        var back = [Float](repeating: 0, count: inputs.count)
        ak_bf16_to_f32(out, &back, out.count)
        #expect(back[5].isNaN)
        #expect(back[6].isFinite || back[6] == .infinity)
        #expect(back[7] == 0)
    }

    @Test(arguments: [AK_PATH_PORTABLE, AK_PATH_AVX2, AK_PATH_AVX512BF16, AK_PATH_AUTO].map { Int32($0) }) func int8DotIsExact(path: Int32) {
        var random = SplitMix64(seed: 9)
        for count in [0, 1, 31, 32, 33, 384, 1_000] {
            let a = (0..<count).map { _ in Int8(truncatingIfNeeded: random.next()) }
            let b = (0..<count).map { _ in Int8(truncatingIfNeeded: random.next()) }
            let expected = zip(a, b).reduce(Int32(0)) { $0 + Int32($1.0) * Int32($1.1) }
            #expect(ak_dot_i8(a, b, count, path) == expected)
        }
        // The extremes: -128 × -128 in every lane.
        let extreme = [Int8](repeating: -128, count: 384)
        #expect(ak_dot_i8(extreme, extreme, 384, path) == 384 * 16_384)
        // Gathered rows (a graph search's neighbours): every row's product, in the order asked.
        let dimension = 100, rows = 50
        let base = (0..<dimension * rows).map { _ in Int8(truncatingIfNeeded: random.next()) }
        let query = (0..<dimension).map { _ in Int8(truncatingIfNeeded: random.next()) }
        let nodes: [Int32] = [49, 0, 7, 7, 23, 1, 48, 30]
        var out = [Int32](repeating: -1, count: nodes.count)
        ak_dot_i8_gather(query, base, nodes, nodes.count, dimension, path, &out)
        #expect(out == nodes.map { node in (0..<dimension).reduce(Int32(0)) { $0 + Int32(query[$1]) * Int32(base[Int(node) * dimension + $1]) } })
        ak_dot_i8_gather(query, base, nodes, 0, dimension, path, &out)
    }

    /// The graph search kernel on a chain whose scores rise along it: from node 0 it walks to the
    /// end and returns the best `ef` best first, with either kind of visit marks, on every path.
    @Test(arguments: [AK_PATH_PORTABLE, AK_PATH_AVX2, AK_PATH_AVX512BF16].map { Int32($0) }) func graphSearchWalksToTheBest(path: Int32) {
        let nodes = 40, dimension = 4, maxLinks = 3
        let codes: [Int8] = (0..<nodes).flatMap { node -> [Int8] in [Int8(node), 0, 0, 0] }
        let scales = [Float](repeating: 0.5, count: nodes)
        var links = [Int32](repeating: -1, count: nodes * maxLinks)
        for node in 0..<nodes {
            var slot = node * maxLinks
            for next in [node + 1, node - 1] where (0..<nodes).contains(next) {
                links[slot] = Int32(next)
                slot += 1
            }
        }
        let query: [Int8] = [2, 0, 0, 0]
        var outNodes = [Int32](repeating: -1, count: 5), outScores = [Float](repeating: 0, count: 5)
        var bits = [UInt64](repeating: 0, count: 1)
        let found = ak_hnsw_search0(query, 1, codes, scales, dimension, links, maxLinks, [0], 1, 3, &bits, nil, 0, path, &outNodes, &outScores)
        #expect(found == 3 && Array(outNodes.prefix(3)) == [39, 38, 37])
        #expect(Array(outScores.prefix(3)) == [39, 38, 37], "code × query code × both scales")
        var stamps = [UInt32](repeating: 7, count: nodes)
        let again = ak_hnsw_search0(query, 1, codes, scales, dimension, links, maxLinks, [5, 0], 2, 5, nil, &stamps, 8, path, &outNodes, &outScores)
        #expect(again == 5 && outNodes == [39, 38, 37, 36, 35])
        #expect(stamps[39] == 8 && stamps[4] == 8 && stamps[3] == 7, "marked as visited with the generation; the low end never reached")
        // An already-visited entry is not searched from; nothing asked, nothing found.
        #expect(ak_hnsw_search0(query, 1, codes, scales, dimension, links, maxLinks, [0], 1, 3, nil, &stamps, 8, path, &outNodes, &outScores) == 0)
        #expect(ak_hnsw_search0(query, 1, codes, scales, dimension, links, maxLinks, [0], 1, 0, &bits, nil, 0, path, &outNodes, &outScores) == 0)
    }
}
