import CBLAS
import CKernels
import Foundation

/// The BERT encoder forward pass on BLAS: embeddings, self-attention layers, mean pooling and L2
/// normalisation. A batch's sequences are packed end to end (no padding), so every linear layer is
/// one `cblas_sgemm` over all tokens of the batch; attention runs per sequence and head.
public struct BertEncoder: Sendable {
    public let configuration: BertConfiguration
    let weights: BertWeights
    /// Longest sequence whose attention runs as SIMD loops rather than sgemm calls (0: always sgemm).
    public var loopAttentionLimit = 16

    /// How the linear layers' weights are held.
    public let precision: WeightPrecision

    /// Loads weights for `configuration` from a safetensors file.
    public init(configuration: BertConfiguration, weightsFile: Safetensors, precision: WeightPrecision = .bfloat16) throws {
        self.configuration = configuration
        self.precision = precision
        self.weights = try BertWeights(file: weightsFile, configuration: configuration, precision: precision)
    }

    /// Bytes of linear-layer weights one forward pass reads.
    public var linearWeightBytes: Int { weights.linearWeightBytes }

    /// The matrix kernel in use: BLAS, or our bfloat16 kernel's path (`avx512-bf16`, `avx2`, `portable`).
    public var kernel: String {
        precision == .float32 ? "blas sgemm" : "bf16 " + String(cString: ak_path_name(Int32(AK_PATH_AUTO)))
    }

    /// One L2-normalised, mean-pooled vector per id sequence (each `[CLS] … [SEP]`).
    /// With a `profile`, the time spent in matrix products is added to it (for the benchmark).
    public func encode(_ sequences: [[Int32]], profile: EncoderProfile? = nil) -> [[Float]] {
        let c = configuration
        let h = c.hiddenSize
        let lengths = sequences.map { min($0.count, c.maxPositions) }
        let tokens = lengths.reduce(0, +)
        guard tokens > 0 else { return sequences.map { _ in [Float](repeating: 0, count: h) } }
        let longest = lengths.max() ?? 0

        let x = UnsafeMutablePointer<Float>.allocate(capacity: tokens * h)
        let qkv = UnsafeMutablePointer<Float>.allocate(capacity: tokens * 3 * h)
        let context = UnsafeMutablePointer<Float>.allocate(capacity: tokens * h)
        let projected = UnsafeMutablePointer<Float>.allocate(capacity: tokens * h)
        let inner = UnsafeMutablePointer<Float>.allocate(capacity: tokens * c.intermediateSize)
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: longest * longest)
        defer {
            x.deallocate(); qkv.deallocate(); context.deallocate(); projected.deallocate(); inner.deallocate(); scores.deallocate()
        }

        embed(sequences, lengths: lengths, into: x)
        let scale = 1 / Float(c.headDimension).squareRoot()
        for layer in weights.layers {
            Self.linear(x, rows: tokens, layer.qkv, into: qkv, profile: profile)
            var offset = 0
            for length in lengths {
                attention(qkv: qkv + offset * 3 * h, length: length, scale: scale, scores: scores, into: context + offset * h, profile: profile)
                offset += length
            }
            Self.linear(context, rows: tokens, layer.attentionOutput, into: projected, profile: profile)
            Self.addAndNormalize(projected, residual: x, rows: tokens, width: h, layer.attentionNorm, epsilon: c.layerNormEpsilon)
            Self.linear(x, rows: tokens, layer.intermediate, into: inner, profile: profile)
            Activation.gelu(inner, count: tokens * c.intermediateSize)
            Self.linear(inner, rows: tokens, layer.output, into: projected, profile: profile)
            Self.addAndNormalize(projected, residual: x, rows: tokens, width: h, layer.outputNorm, epsilon: c.layerNormEpsilon)
        }
        return Self.pool(x, lengths: lengths, width: h)
    }

    /// Word + position + token-type-0 embeddings, then LayerNorm, into `x`.
    func embed(_ sequences: [[Int32]], lengths: [Int], into x: UnsafeMutablePointer<Float>) {
        let h = configuration.hiddenSize
        weights.wordEmbeddings.withUnsafeBufferPointer { words in
            weights.positionEmbeddings.withUnsafeBufferPointer { positions in
                weights.tokenTypeEmbedding.withUnsafeBufferPointer { tokenType in
                    var row = 0
                    for (sequence, length) in zip(sequences, lengths) {
                        for position in 0..<length {
                            let id = Int(sequence[position])
                            let word = words.baseAddress! + (id < configuration.vocabularySize && id >= 0 ? id : 0) * h
                            let place = positions.baseAddress! + position * h
                            let out = x + row * h
                            for j in 0..<h { out[j] = word[j] + place[j] + tokenType[j] }
                            row += 1
                        }
                    }
                }
            }
        }
        Self.normalizeRows(x, rows: lengths.reduce(0, +), width: h, weights.embeddingNorm, epsilon: configuration.layerNormEpsilon)
    }

    /// Multi-head self-attention of one sequence: `qkv` is `[length × 3H]` (Q | K | V),
    /// the result goes to `[length × H]` rows of stride H. Short sequences use SIMD loops (a tiny
    /// sgemm call costs more in overhead than its arithmetic); longer ones use sgemm.
    func attention(qkv: UnsafeMutablePointer<Float>, length: Int, scale: Float, scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, profile: EncoderProfile?) {
        let h = configuration.hiddenSize
        let d = configuration.headDimension
        let n = Int32(length)
        let useLoops = length <= loopAttentionLimit && d % 8 == 0
        for head in 0..<configuration.headCount {
            let q = qkv + head * d
            let k = qkv + h + head * d
            let v = qkv + 2 * h + head * d
            if useLoops {
                for i in 0..<length {
                    let row = scores + i * length
                    let qi = q + i * 3 * h
                    for j in 0..<length { row[j] = scale * Vectorised.dot(qi, k + j * 3 * h, count: d) }
                }
            } else {
                EncoderProfile.measure(profile) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, Int32(d), scale, q, Int32(3 * h), k, Int32(3 * h), 0, scores, n)
                }
            }
            for row in 0..<length { Activation.softmax(scores + row * length, count: length) }
            if useLoops {
                for i in 0..<length {
                    let target = out + i * h + head * d
                    target.initialize(repeating: 0, count: d)
                    let weights = scores + i * length
                    for j in 0..<length {
                        let p = weights[j]
                        let vj = v + j * 3 * h
                        for c in 0..<d { target[c] += p * vj[c] }
                    }
                }
            } else {
                EncoderProfile.measure(profile) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, Int32(d), n, 1, scores, n, v, Int32(3 * h), 0, out + head * d, Int32(h))
                }
            }
        }
    }


    /// `output[rows × out] = input[rows × in] · Wᵀ + b`, as one sgemm with the bias pre-filled.
    static func linear(_ input: UnsafePointer<Float>, rows: Int, _ layer: Linear, into output: UnsafeMutablePointer<Float>, profile: EncoderProfile?) {
        layer.bias.withUnsafeBufferPointer { bias in
            for row in 0..<rows { (output + row * layer.outputs).update(from: bias.baseAddress!, count: layer.outputs) }
        }
        switch layer.weights {
        case .float32(let matrix):
            matrix.withUnsafeBufferPointer { weight in
                EncoderProfile.measure(profile) {
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(layer.outputs), Int32(layer.inputs),
                        1, input, Int32(layer.inputs), weight.baseAddress!, Int32(layer.outputs), 1, output, Int32(layer.outputs)
                    )
                }
            }
        case .bfloat16(let packed, let path):
            packed.withUnsafeBufferPointer { weight in
                EncoderProfile.measure(profile) {
                    ak_gemm_bf16(input, rows, layer.inputs, weight.baseAddress!, layer.outputs, path, output)
                }
            }
        }
    }

    /// `residual = LayerNorm(values + residual)`.
    static func addAndNormalize(_ values: UnsafePointer<Float>, residual: UnsafeMutablePointer<Float>, rows: Int, width: Int, _ norm: Norm, epsilon: Float) {
        for i in 0..<(rows * width) { residual[i] += values[i] }
        normalizeRows(residual, rows: rows, width: width, norm, epsilon: epsilon)
    }

    /// LayerNorm of each row in place (biased variance, as torch).
    static func normalizeRows(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, _ norm: Norm, epsilon: Float) {
        norm.weight.withUnsafeBufferPointer { gamma in
            norm.bias.withUnsafeBufferPointer { beta in
                for row in 0..<rows {
                    let r = x + row * width
                    let mean = Vectorised.sum(r, count: width) / Float(width)
                    let squares = Vectorised.sumOfSquaredDeviations(r, count: width, from: mean)
                    let inverse = 1 / (squares / Float(width) + epsilon).squareRoot()
                    for j in 0..<width { r[j] = (r[j] - mean) * inverse * gamma[j] + beta[j] }
                }
            }
        }
    }

    /// Mean over each sequence's rows, then division by max(‖v‖, 1e-12).
    static func pool(_ x: UnsafePointer<Float>, lengths: [Int], width: Int) -> [[Float]] {
        var offset = 0
        return lengths.map { length in
            var mean = [Float](repeating: 0, count: width)
            for row in offset..<(offset + length) {
                let r = x + row * width
                for j in 0..<width { mean[j] += r[j] }
            }
            offset += length
            let count = Float(max(length, 1))
            var norm: Float = 0
            for j in 0..<width {
                mean[j] /= count
                norm += mean[j] * mean[j]
            }
            let divisor = max(norm.squareRoot(), 1e-12)
            for j in 0..<width { mean[j] /= divisor }
            return mean
        }
    }
}

/// Accumulates time spent in matrix products, for `afterimage bench embed`.
public final class EncoderProfile {
    public var matrixNanoseconds: UInt64 = 0
    public init() {}

    @inline(__always)
    static func measure(_ profile: EncoderProfile?, _ work: () -> Void) {
        guard let profile else { return work() }
        let start = DispatchTime.now().uptimeNanoseconds
        work()
        profile.matrixNanoseconds += DispatchTime.now().uptimeNanoseconds - start
    }
}

/// Element-wise functions written so the compiler can vectorise them.
enum Activation {
    /// Exact-erf GELU, `0.5·x·(1 + erf(x/√2))`, with a rational erf accurate to ~1e-7.
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let value = x[i]
            x[i] = 0.5 * value * (1 + erf(value * 0.70710678118654752))
        }
    }

    /// erf as a rational function of x² on [-4, 4] (float32 accurate; |error| < 1e-7).
    @inline(__always)
    static func erf(_ input: Float) -> Float {
        let x = min(max(input, -4), 4)
        let x2 = x * x
        var p: Float = -2.72614225801306e-10
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 + -2.10102402082508e-06
        p = p * x2 + -5.69250639462346e-05
        p = p * x2 + -7.34990630326855e-04
        p = p * x2 + -2.95459980854025e-03
        p = p * x2 + -1.60960333262415e-02
        p *= x
        var q: Float = -1.45660718464996e-05
        q = q * x2 + -2.13374055278905e-04
        q = q * x2 + -1.68282697438203e-03
        q = q * x2 + -7.37332916720468e-03
        q = q * x2 + -1.42647390514189e-02
        return p / q
    }

    /// e^x for x ≤ 0 (softmax inputs after the max shift), to about 2 ulp: Cody–Waite reduction
    /// and a degree-6 polynomial, branch-free so loops over it vectorise. Underflows to 0 below −87.
    @inline(__always)
    static func fastExp(_ input: Float) -> Float {
        let x = max(input, -87.3)
        let n = (x * 1.44269504088896341).rounded(.toNearestOrEven)
        let r = (x - n * 0.693145751953125) - n * 1.428606765330187045e-06
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        return p * Float(bitPattern: UInt32(bitPattern: Int32(n) + 127) << 23)
    }

    /// Softmax in place, shifted by the row maximum.
    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, x[i]) }
        var sum: Float = 0
        for i in 0..<count {
            let e = fastExp(x[i] - maximum)
            x[i] = e
            sum += e
        }
        let inverse = 1 / sum
        for i in 0..<count { x[i] *= inverse }
    }
}

/// Reductions with explicit SIMD accumulators (the compiler will not reorder float sums itself).
enum Vectorised {
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var accumulator = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            accumulator += x * y
            i += 8
        }
        var total = accumulator.sum()
        while i < count { total += a[i] * b[i]; i += 1 }
        return total
    }

    @inline(__always)
    static func sum(_ a: UnsafePointer<Float>, count: Int) -> Float {
        var accumulator = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            accumulator += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = accumulator.sum()
        while i < count { total += a[i]; i += 1 }
        return total
    }

    @inline(__always)
    static func sumOfSquaredDeviations(_ a: UnsafePointer<Float>, count: Int, from mean: Float) -> Float {
        var accumulator = SIMD8<Float>()
        let centre = SIMD8<Float>(repeating: mean)
        var i = 0
        while i + 8 <= count {
            let deviation = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) - centre
            accumulator += deviation * deviation
            i += 8
        }
        var total = accumulator.sum()
        while i < count { total += (a[i] - mean) * (a[i] - mean); i += 1 }
        return total
    }
}
