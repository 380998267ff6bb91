import CBLAS
import CKernels

/// A partition's live vectors while it has no graph, searched **exactly**, reading a quarter of
/// the bytes of a float32 scan for most of them.
///
/// Each float32 row `v` is also held as int8 codes `c` with a per-row scale `s` (`v̂ = s·c`), the
/// norm of what the codes miss, `‖v − v̂‖`, and `‖v̂‖`. A search quantises the query the same way
/// (`q = q̂ + ρ`) and scores every row from the codes alone (`q̂·v̂`, int8 products in int32). Since
/// `q·v − q̂·v̂ = q·(v − v̂) + ρ·v̂`, the true score lies within `‖q‖·‖v − v̂‖ + ‖ρ‖·‖v̂‖` of the
/// approximate one (Cauchy–Schwarz, plus a margin for float32 rounding). The `k`-th best lower
/// bound is a floor no true top-`k` row falls under, so only rows whose upper bound reaches it
/// are scored in float32 — typically a few dozen — and the result is the exact top `k`, scores
/// included. Rows with a non-finite component are always scored in float32.
struct ExactRows: Sendable {
    let dimension: Int
    private(set) var ids: [Int64] = []
    /// Float32 rows, `dimension` each, in `ids` order.
    private(set) var rows: [Float] = []
    private var positions: [Int64: Int] = [:]
    private var codes: [Int8] = []
    private var scales: [Float] = []
    /// `‖v − v̂‖` per row (infinite for a row with a non-finite component).
    private var residuals: [Float] = []
    /// `‖v̂‖` per row.
    private var codeNorms: [Float] = []

    /// Below this many rows a search is one `cblas_sgemv` (the first pass would not pay off).
    static let boundedScanMinimum = 512

    init(dimension: Int) { self.dimension = dimension }

    var count: Int { ids.count }

    func contains(_ id: Int64) -> Bool { positions[id] != nil }

    /// The float32 row of `id`, or nil.
    func vector(of id: Int64) -> [Float]? {
        guard let position = positions[id] else { return nil }
        return Array(rows[position * dimension..<(position + 1) * dimension])
    }

    /// Bytes held (rows, codes, per-row terms, ids, positions), without allocator overhead.
    var approximateBytes: Int {
        rows.count * 4 + codes.count + (scales.count + residuals.count + codeNorms.count) * 4 + ids.count * 8 + positions.count * 24
    }

    /// Adds or replaces the row of `id` (`vector.count == dimension`).
    mutating func upsert(id: Int64, vector: [Float]) {
        let (code, scale, residual, codeNorm) = Self.quantized(vector)
        if let position = positions[id] {
            rows.replaceSubrange(position * dimension..<(position + 1) * dimension, with: vector)
            codes.replaceSubrange(position * dimension..<(position + 1) * dimension, with: code)
            (scales[position], residuals[position], codeNorms[position]) = (scale, residual, codeNorm)
            return
        }
        positions[id] = ids.count
        ids.append(id)
        rows.append(contentsOf: vector)
        codes.append(contentsOf: code)
        scales.append(scale)
        residuals.append(residual)
        codeNorms.append(codeNorm)
    }

    /// Removes `id` (the last row takes its place); returns whether it was present.
    @discardableResult
    mutating func remove(id: Int64) -> Bool {
        guard let position = positions.removeValue(forKey: id) else { return false }
        let last = ids.count - 1
        if position != last {
            let moved = ids[last]
            ids[position] = moved
            positions[moved] = position
            for j in 0..<dimension {
                rows[position * dimension + j] = rows[last * dimension + j]
                codes[position * dimension + j] = codes[last * dimension + j]
            }
            (scales[position], residuals[position], codeNorms[position]) = (scales[last], residuals[last], codeNorms[last])
        }
        ids.removeLast()
        rows.removeLast(dimension)
        codes.removeLast(dimension)
        scales.removeLast()
        residuals.removeLast()
        codeNorms.removeLast()
        return true
    }

    /// Drops every row (a graph took over).
    mutating func removeAll() { self = ExactRows(dimension: dimension) }

    /// The exact best `k` by float32 dot product, best first.
    func search(_ query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        guard !ids.isEmpty, k > 0, query.count == dimension else { return [] }
        guard let positions = boundedCandidates(query, k: k) else { return scanAll(query, k: k) }
        var candidateIDs = [Int64](), scores = [Float]()
        candidateIDs.reserveCapacity(positions.count)
        scores.reserveCapacity(positions.count)
        rows.withUnsafeBufferPointer { matrix in
            for i in positions {
                candidateIDs.append(ids[i])
                scores.append(cblas_sdot(Int32(dimension), query, 1, matrix.baseAddress! + i * dimension, 1))
            }
        }
        return Neighbours.topK(scores, ids: candidateIDs, k: k)
    }

    /// The rows the first pass cannot rule out of the best `k` (positions, in row order), or nil
    /// when a search scans every row in float32 (few rows, `k` ≥ rows, a non-finite query).
    func boundedCandidates(_ query: [Float], k: Int) -> [Int]? {
        guard ids.count >= Self.boundedScanMinimum, k > 0, k < ids.count, query.count == dimension else { return nil }
        let (queryCode, queryScale, queryResidual, _) = Self.quantized(query)
        guard queryResidual.isFinite else { return nil }
        let queryNorm = Self.norm(query)
        // Relative room for float32 rounding: of these terms, and of the float32 dot product the
        // result is ranked by (at most dimension × 2⁻²⁴ of Σ|qⱼvⱼ| ≤ ‖q‖‖v‖).
        let slack = Float(dimension) * 2.5e-7 + 1e-5
        let count = ids.count
        // The code scores live in scratch memory of this call (no zero-filled array per search),
        // and each row's bounds are computed where they are used rather than stored.
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: count) { dots -> [Int] in
            codes.withUnsafeBufferPointer { base in
                queryCode.withUnsafeBufferPointer { code in
                    ak_dot_i8_rows(code.baseAddress!, base.baseAddress!, count, dimension, Int32(AK_PATH_AUTO), dots.baseAddress!)
                }
            }
            // A row's approximate score and the most the true one can differ from it.
            func bounds(_ i: Int) -> (score: Float, error: Float) {
                let score = Float(dots[i]) * queryScale * scales[i]
                let error = queryNorm * residuals[i] + queryResidual * codeNorms[i] + slack * queryNorm * (codeNorms[i] + residuals[i])
                return (score, error)
            }
            // The floor: the k-th best lower bound.
            var lowest = [Float]()
            lowest.reserveCapacity(k + 1)
            for i in 0..<count {
                let (score, error) = bounds(i)
                let lower = score - error
                guard lower.isFinite, lowest.count < k || lower > lowest[lowest.count - 1] else { continue }
                var slot = lowest.count
                while slot > 0, lowest[slot - 1] < lower { slot -= 1 }
                lowest.insert(lower, at: slot)
                if lowest.count > k { lowest.removeLast() }
            }
            let floor = lowest.count == k ? lowest[k - 1] : -Float.infinity
            // `!(x < floor)` keeps NaN bounds (never ruled out).
            return (0..<count).filter { i in
                let (score, error) = bounds(i)
                return !(score + error < floor)
            }
        }
    }

    /// Every row in float32 (`cblas_sgemv`): small partitions, or a query the codes cannot bound.
    private func scanAll(_ query: [Float], k: Int) -> [(id: Int64, score: Float)] {
        var scores = [Float](repeating: 0, count: ids.count)
        rows.withUnsafeBufferPointer { matrix in
            query.withUnsafeBufferPointer { vector in
                scores.withUnsafeMutableBufferPointer { out in
                    cblas_sgemv(
                        CblasRowMajor, CblasNoTrans, Int32(ids.count), Int32(dimension), 1,
                        matrix.baseAddress!, Int32(dimension), vector.baseAddress!, 1, 0, out.baseAddress!, 1
                    )
                }
            }
        }
        return Neighbours.topK(scores, ids: ids, k: k)
    }

    /// The codes and scale of `vector` (as the graph quantises), `‖v − v̂‖` rounded up (infinite
    /// when a component is not finite) and `‖v̂‖`.
    static func quantized(_ vector: [Float]) -> (codes: [Int8], scale: Float, residual: Float, codeNorm: Float) {
        let (code, scale) = HNSWGraph.quantize(vector)
        var missed = 0.0, kept = 0.0
        for j in vector.indices {
            let value = Double(vector[j])
            guard value.isFinite else { return (code, scale, .infinity, .infinity) }
            let held = Double(code[j]) * Double(scale)
            missed += (value - held) * (value - held)
            kept += held * held
        }
        return (code, scale, Float(missed.squareRoot()).nextUp, Float(kept.squareRoot()).nextUp)
    }

    static func norm(_ vector: [Float]) -> Float {
        Float(vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()).nextUp
    }
}
