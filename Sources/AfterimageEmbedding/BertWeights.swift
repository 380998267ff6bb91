import CKernels
import Foundation

/// The hyper-parameters of a BERT-family encoder, from `config.json`.
public struct BertConfiguration: Sendable, Equatable {
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var vocabularySize: Int
    public var maxPositions: Int
    public var layerNormEpsilon: Float

    public var headDimension: Int { hiddenSize / headCount }

    /// Reads and checks `config.json` (exact GELU and absolute positions only).
    public init(file path: String) throws {
        let name = "config.json"
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw Safetensors.FormatError(file: name, problem: "missing or not a JSON object") }
        func int(_ key: String) throws -> Int {
            guard let value = json[key] as? Int, value > 0 else {
                throw Safetensors.FormatError(file: name, problem: "'\(key)' is missing or not a positive integer")
            }
            return value
        }
        hiddenSize = try int("hidden_size")
        layerCount = try int("num_hidden_layers")
        headCount = try int("num_attention_heads")
        intermediateSize = try int("intermediate_size")
        vocabularySize = try int("vocab_size")
        maxPositions = try int("max_position_embeddings")
        layerNormEpsilon = Float((json["layer_norm_eps"] as? Double) ?? 1e-12)
        guard hiddenSize % headCount == 0 else {
            throw Safetensors.FormatError(file: name, problem: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)")
        }
        if let activation = json["hidden_act"] as? String, activation != "gelu" {
            throw Safetensors.FormatError(file: name, problem: "hidden_act '\(activation)' is not supported (only exact gelu)")
        }
        if let positions = json["position_embedding_type"] as? String, positions != "absolute" {
            throw Safetensors.FormatError(file: name, problem: "position_embedding_type '\(positions)' is not supported")
        }
    }
}

/// How the encoder's linear-layer weights are held in memory.
public enum WeightPrecision: String, Sendable, CaseIterable {
    /// float32, multiplied by BLAS `sgemm` (42 MB of layer weights for MiniLM-L6).
    case float32
    /// bfloat16 panels multiplied by our kernels (`CKernels`): with AVX-512 BF16, `vdpbf16ps` on
    /// activations rounded to bfloat16 (twice the multiply rate of float32 FMA); with AVX2, weights
    /// widened in registers. 21 MB: a forward pass's working set fits a 32 MB L3.
    case bfloat16
}

/// A linear layer, `y = x·Wᵀ + b`. float32 weights are kept transposed, `[in × out]` row-major,
/// so the product is a plain NoTrans sgemm (measurably faster for the few-row products of short
/// prompts); bfloat16 weights are packed into `ak_pack_bf16` panels of 16 outputs.
struct Linear: Sendable {
    enum Weights: Sendable {
        /// `Wᵀ`, `[in × out]`.
        case float32([Float])
        /// `Wᵀ` in bfloat16 panels, in the layout of a `CKernels` path.
        case bfloat16([UInt16], path: Int32)
    }

    var weights: Weights
    var bias: [Float]
    var inputs: Int
    var outputs: Int

    /// From a PyTorch-layout weight `[out × in]`.
    init(pytorchWeight: [Float], bias: [Float], inputs: Int, outputs: Int, precision: WeightPrecision) {
        var transposed = [Float](repeating: 0, count: pytorchWeight.count)
        for o in 0..<outputs {
            for i in 0..<inputs { transposed[i * outputs + o] = pytorchWeight[o * inputs + i] }
        }
        switch precision {
        case .float32:
            weights = .float32(transposed)
        case .bfloat16:
            let path = ak_best_path()
            var packed = [UInt16](repeating: 0, count: ak_packed_count(inputs, outputs))
            transposed.withUnsafeBufferPointer { source in
                packed.withUnsafeMutableBufferPointer { ak_pack_bf16(source.baseAddress!, inputs, outputs, path, $0.baseAddress!) }
            }
            weights = .bfloat16(packed, path: path)
        }
        self.bias = bias
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Bytes the weights occupy.
    var weightBytes: Int {
        switch weights {
        case .float32(let values): values.count * 4
        case .bfloat16(let values, _): values.count * 2
        }
    }
}

/// Layer-norm parameters.
struct Norm: Sendable {
    var weight: [Float]
    var bias: [Float]
}

/// One encoder layer, with Q, K and V fused into one `[3H × H]` projection.
struct EncoderLayer: Sendable {
    var qkv: Linear
    var attentionOutput: Linear
    var attentionNorm: Norm
    var intermediate: Linear
    var output: Linear
    var outputNorm: Norm
}

/// All weights of the encoder, loaded from `model.safetensors` (an optional `bert.` prefix is accepted).
struct BertWeights: Sendable {
    var wordEmbeddings: [Float]
    var positionEmbeddings: [Float]
    var tokenTypeEmbedding: [Float]
    var embeddingNorm: Norm
    var layers: [EncoderLayer]

    init(file: Safetensors, configuration c: BertConfiguration, precision: WeightPrecision) throws {
        let prefix = file.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] { try file.floats(prefix + name, shape: shape) }
        func raw(_ name: String, out: Int, in inputs: Int) throws -> (weight: [Float], bias: [Float]) {
            (try tensor(name + ".weight", [out, inputs]), try tensor(name + ".bias", [out]))
        }
        func linear(_ name: String, out: Int, in inputs: Int) throws -> Linear {
            let (weight, bias) = try raw(name, out: out, in: inputs)
            return Linear(pytorchWeight: weight, bias: bias, inputs: inputs, outputs: out, precision: precision)
        }
        func norm(_ name: String) throws -> Norm {
            Norm(weight: try tensor(name + ".weight", [c.hiddenSize]), bias: try tensor(name + ".bias", [c.hiddenSize]))
        }
        let h = c.hiddenSize
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [c.vocabularySize, h])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [c.maxPositions, h])
        let tokenTypes = try file.floats(prefix + "embeddings.token_type_embeddings.weight")
        guard tokenTypes.count >= h else {
            throw Safetensors.FormatError(file: "model.safetensors", problem: "token_type_embeddings is smaller than one row")
        }
        tokenTypeEmbedding = Array(tokenTypes[0..<h])
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<c.layerCount).map { index in
            let p = "encoder.layer.\(index)."
            let q = try raw(p + "attention.self.query", out: h, in: h)
            let k = try raw(p + "attention.self.key", out: h, in: h)
            let v = try raw(p + "attention.self.value", out: h, in: h)
            return EncoderLayer(
                qkv: Linear(pytorchWeight: q.weight + k.weight + v.weight, bias: q.bias + k.bias + v.bias, inputs: h, outputs: 3 * h, precision: precision),
                attentionOutput: try linear(p + "attention.output.dense", out: h, in: h),
                attentionNorm: try norm(p + "attention.output.LayerNorm"),
                intermediate: try linear(p + "intermediate.dense", out: c.intermediateSize, in: h),
                output: try linear(p + "output.dense", out: h, in: c.intermediateSize),
                outputNorm: try norm(p + "output.LayerNorm")
            )
        }
    }
}

extension BertWeights {
    /// Bytes of all linear-layer weights (what one forward pass streams through).
    var linearWeightBytes: Int {
        layers.reduce(0) { $0 + $1.qkv.weightBytes + $1.attentionOutput.weightBytes + $1.intermediate.weightBytes + $1.output.weightBytes }
    }
}
