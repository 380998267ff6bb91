#ifndef AFTERIMAGE_CKERNELS_H
#define AFTERIMAGE_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// SIMD kernels for types BLAS has none for: bfloat16 weights in the encoder's matrix products and
/// int8 dot products in the approximate index. Every function takes a code path; `AK_PATH_AUTO`
/// picks the best one this CPU runs, and a path the CPU lacks falls back to portable loops with
/// the same arithmetic (so tests can check every path on any machine).

/// Code paths.
enum {
    /// The best path this CPU supports.
    AK_PATH_AUTO = 0,
    /// Plain C loops: bfloat16 weights times float32 activations, float32 sums.
    AK_PATH_PORTABLE = 1,
    /// AVX2 + FMA: bfloat16 weights widened to float32 in registers, float32 activations and sums.
    AK_PATH_AVX2 = 2,
    /// AVX-512 BF16 (`vdpbf16ps`): activations rounded to bfloat16 too, pairs of products summed in
    /// float32 — twice the multiply rate of float32 FMA.
    AK_PATH_AVX512BF16 = 3,
};

/// Outputs per packed panel.
#define AK_PANEL 16

/// What `AK_PATH_AUTO` resolves to on this CPU.
int ak_best_path(void);

/// A path's name ("portable", "avx2", "avx512-bf16").
const char *ak_path_name(int path);

/// Rounds `count` floats to bfloat16 (nearest, ties to even; NaN stays NaN).
void ak_f32_to_bf16(const float *source, uint16_t *destination, size_t count);

/// bfloat16 back to float32 (exact).
void ak_bf16_to_f32(const uint16_t *source, float *destination, size_t count);

/// Number of bfloat16 values `ak_pack_bf16` writes for a `[inputs x outputs]` matrix (any path).
size_t ak_packed_count(size_t inputs, size_t outputs);

/// Packs a row-major float32 matrix `[inputs x outputs]` into bfloat16 panels of AK_PANEL outputs
/// in the layout `path` multiplies (resolved like `ak_gemm_bf16`'s; pass the same path to both).
void ak_pack_bf16(const float *matrix, size_t inputs, size_t outputs, int path, uint16_t *packed);

/// `y[rows x outputs] += x[rows x inputs] * W`, with W packed by `ak_pack_bf16` for `path`.
/// `y` usually holds the bias already.
void ak_gemm_bf16(const float *x, size_t rows, size_t inputs, const uint16_t *packed, size_t outputs, int path, float *y);

/// Dot product of two int8 vectors in int32 (exact for count < 2^17). The AVX-512 path uses VNNI
/// (`vpdpbusd`) where the CPU has it, else AVX-512BW.
int32_t ak_dot_i8(const int8_t *a, const int8_t *b, size_t count, int path);

/// `out[i]` = the dot product of `query` with row `i` of `base` (`rows` contiguous rows of
/// `dimension` int8 codes): the first pass of an exact scan.
void ak_dot_i8_rows(const int8_t *query, const int8_t *base, size_t rows, size_t dimension, int path, int32_t *out);

/// `out[i]` = the dot product of `query` with row `nodes[i]` of `base` (rows of `dimension` int8
/// codes), for `count` nodes — the rows a few ahead are prefetched, as a graph search's rows are
/// scattered over memory far larger than the caches.
void ak_dot_i8_gather(const int8_t *query, const int8_t *base, const int32_t *nodes, size_t count, size_t dimension, int path, int32_t *out);

/// Best-first search of an HNSW graph's layer 0 for `query` (int8 codes; a code times its scale
/// is the value): rows of `dimension` codes in `codes` with per-row `scales`, `max_links` link
/// slots per node in `links` (-1 ends a list), starting from `entries`, keeping the best `ef`.
/// Visited nodes are marked either in `visited_bits` (a zeroed bitset, one bit per node) or,
/// when it is non-null, in `visited_stamps` (a node is visited when its stamp is `generation`).
/// Writes up to `ef` nodes and approximate scores best first; returns how many.
size_t ak_hnsw_search0(
    const int8_t *query, float query_scale, const int8_t *codes, const float *scales, size_t dimension,
    const int32_t *links, size_t max_links, const int32_t *entries, size_t entry_count, size_t ef,
    uint64_t *visited_bits, uint32_t *visited_stamps, uint32_t generation, int path,
    int32_t *out_nodes, float *out_scores
);

#endif
