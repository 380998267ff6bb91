#include "CKernels.h"
#include "kernels_internal.h"

#include <stdlib.h>
#include <string.h>

// MARK: - Paths

static int ak_detect(void) {
#if AK_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16")) return AK_PATH_AVX512BF16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return AK_PATH_AVX2;
#endif
    return AK_PATH_PORTABLE;
}

int ak_best_path(void) {
    static int known = 0;
    int value = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (value == 0) {
        value = ak_detect();
        __atomic_store_n(&known, value, __ATOMIC_RELAXED);
    }
    return value;
}

/// The path that runs: AUTO resolved; a path above what the CPU has is run by portable loops
/// with its arithmetic (`ak_supported`) — `ak_resolve` keeps the requested arithmetic.
int ak_resolve(int path) {
    if (path <= AK_PATH_AUTO || path > AK_PATH_AVX512BF16) return ak_best_path();
    return path;
}

int ak_supported(int path) {
    int best = ak_best_path();
    if (path == AK_PATH_PORTABLE) return 1;
    if (path == AK_PATH_AVX2) return best >= AK_PATH_AVX2;
    return best == AK_PATH_AVX512BF16;
}

const char *ak_path_name(int path) {
    switch (ak_resolve(path)) {
    case AK_PATH_AVX512BF16: return "avx512-bf16";
    case AK_PATH_AVX2: return "avx2";
    default: return "portable";
    }
}

// MARK: - bfloat16 conversion

static inline uint16_t ak_round_bf16(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x0040u); // quiet NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

static inline float ak_widen_bf16(uint16_t value) {
    uint32_t bits = (uint32_t)value << 16;
    float result;
    memcpy(&result, &bits, sizeof result);
    return result;
}

void ak_f32_to_bf16(const float *source, uint16_t *destination, size_t count) {
    for (size_t i = 0; i < count; i++) destination[i] = ak_round_bf16(source[i]);
}

void ak_bf16_to_f32(const uint16_t *source, float *destination, size_t count) {
    for (size_t i = 0; i < count; i++) destination[i] = ak_widen_bf16(source[i]);
}

// MARK: - Packing
//
// Panel layout (portable, AVX2): panel[p][k][16] — one input's 16 weights together.
// Pair layout (AVX-512 BF16): panel[p][k/2][16][2] — each output's weights for inputs k and k+1
// side by side, as `vdpbf16ps` multiplies them. Inputs are padded to an even count with zeros.

static inline size_t ak_even(size_t inputs) { return inputs + (inputs & 1); }

size_t ak_packed_count(size_t inputs, size_t outputs) {
    size_t panels = (outputs + AK_PANEL - 1) / AK_PANEL;
    return panels * ak_even(inputs) * AK_PANEL;
}

/// Index of weight (k, j) of a panel in the layout of `path`.
static inline size_t ak_slot(int path, size_t k, size_t j) {
    if (path == AK_PATH_AVX512BF16) return (k / 2) * 2 * AK_PANEL + j * 2 + (k & 1);
    return k * AK_PANEL + j;
}

void ak_pack_bf16(const float *matrix, size_t inputs, size_t outputs, int path, uint16_t *packed) {
    path = ak_resolve(path);
    size_t panels = (outputs + AK_PANEL - 1) / AK_PANEL, even = ak_even(inputs);
    memset(packed, 0, ak_packed_count(inputs, outputs) * sizeof(uint16_t));
    for (size_t p = 0; p < panels; p++) {
        uint16_t *panel = packed + p * even * AK_PANEL;
        for (size_t k = 0; k < inputs; k++) {
            for (size_t j = 0; j < AK_PANEL; j++) {
                size_t column = p * AK_PANEL + j;
                if (column < outputs) panel[ak_slot(path, k, j)] = ak_round_bf16(matrix[k * outputs + column]);
            }
        }
    }
}

// MARK: - Matrix product

static inline size_t ak_valid(size_t outputs, size_t p) {
    return outputs - p * AK_PANEL < AK_PANEL ? outputs - p * AK_PANEL : AK_PANEL;
}

/// Portable loops in either layout; with the pair layout the activations are rounded to bfloat16
/// and each pair of products is summed before it is added, as `vdpbf16ps` does.
static void ak_gemm_portable(const float *x, size_t rows, size_t inputs, const uint16_t *packed, size_t outputs, int path, float *y) {
    size_t panels = (outputs + AK_PANEL - 1) / AK_PANEL, even = ak_even(inputs);
    int pairs = path == AK_PATH_AVX512BF16;
    for (size_t p = 0; p < panels; p++) {
        const uint16_t *panel = packed + p * even * AK_PANEL;
        size_t valid = ak_valid(outputs, p);
        for (size_t r = 0; r < rows; r++) {
            const float *row = x + r * inputs;
            for (size_t j = 0; j < valid; j++) {
                float sum = 0;
                for (size_t k = 0; k < inputs; k += pairs ? 2 : 1) {
                    if (pairs) {
                        float a0 = ak_widen_bf16(ak_round_bf16(row[k]));
                        float a1 = k + 1 < inputs ? ak_widen_bf16(ak_round_bf16(row[k + 1])) : 0;
                        sum += a0 * ak_widen_bf16(panel[ak_slot(path, k, j)]) + a1 * ak_widen_bf16(panel[ak_slot(path, k + 1, j)]);
                    } else {
                        sum += row[k] * ak_widen_bf16(panel[ak_slot(path, k, j)]);
                    }
                }
                y[r * outputs + p * AK_PANEL + j] += sum;
            }
        }
    }
}

/// Splits `rows` into blocks of at most `most`, as even as possible (a block of 2 rows after a
/// full one would leave the FMA units waiting on too few independent sums).
static inline size_t ak_block(size_t remaining, size_t most) {
    size_t blocks = (remaining + most - 1) / most;
    return (remaining + blocks - 1) / blocks;
}

#if AK_X86
#define AK_ROWS_AVX2 6

__attribute__((target("avx2,fma"))) static inline __m256 ak_load_bf16x8(const uint16_t *source) {
    __m128i half = _mm_loadu_si128((const __m128i *)source);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}

/// One panel (16 outputs) for up to 6 rows: 12 accumulators stay in registers while the panel's
/// weights stream past once.
__attribute__((target("avx2,fma"), always_inline)) static inline void ak_avx2_rows(
    const float *x, size_t count, size_t inputs, const uint16_t *panel, float *y, size_t outputs, size_t valid) {
    __m256 low[AK_ROWS_AVX2], high[AK_ROWS_AVX2];
    for (size_t r = 0; r < AK_ROWS_AVX2; r++) { low[r] = _mm256_setzero_ps(); high[r] = _mm256_setzero_ps(); }
    for (size_t k = 0; k < inputs; k++) {
        __m256 w0 = ak_load_bf16x8(panel + k * AK_PANEL);
        __m256 w1 = ak_load_bf16x8(panel + k * AK_PANEL + 8);
        for (size_t r = 0; r < AK_ROWS_AVX2; r++) {
            if (r < count) {
                __m256 value = _mm256_broadcast_ss(x + r * inputs + k);
                low[r] = _mm256_fmadd_ps(value, w0, low[r]);
                high[r] = _mm256_fmadd_ps(value, w1, high[r]);
            }
        }
    }
    for (size_t r = 0; r < AK_ROWS_AVX2 && r < count; r++) {
        float block[AK_PANEL];
        _mm256_storeu_ps(block, low[r]);
        _mm256_storeu_ps(block + 8, high[r]);
        float *target = y + r * outputs;
        for (size_t j = 0; j < valid; j++) target[j] += block[j];
    }
}

#define AK_AVX2_ROWS(n) \
    __attribute__((target("avx2,fma"))) static void ak_avx2_rows_##n( \
        const float *x, size_t inputs, const uint16_t *panel, float *y, size_t outputs, size_t valid) { \
        ak_avx2_rows(x, n, inputs, panel, y, outputs, valid); \
    }
AK_AVX2_ROWS(1)
AK_AVX2_ROWS(2)
AK_AVX2_ROWS(3)
AK_AVX2_ROWS(4)
AK_AVX2_ROWS(5)
AK_AVX2_ROWS(6)

typedef void (*ak_rows_kernel)(const float *, size_t, const uint16_t *, float *, size_t, size_t);

static void ak_gemm_avx2(const float *x, size_t rows, size_t inputs, const uint16_t *packed, size_t outputs, float *y) {
    static const ak_rows_kernel kernels[AK_ROWS_AVX2 + 1] = {
        0, ak_avx2_rows_1, ak_avx2_rows_2, ak_avx2_rows_3, ak_avx2_rows_4, ak_avx2_rows_5, ak_avx2_rows_6,
    };
    size_t panels = (outputs + AK_PANEL - 1) / AK_PANEL;
    // Panel-major: a panel's weights (inputs x 32 bytes) stay in L1/L2 while every row block uses them.
    for (size_t p = 0; p < panels; p++) {
        const uint16_t *panel = packed + p * ak_even(inputs) * AK_PANEL;
        for (size_t r = 0; r < rows;) {
            size_t count = ak_block(rows - r, AK_ROWS_AVX2);
            kernels[count](x + r * inputs, inputs, panel, y + r * outputs + p * AK_PANEL, outputs, ak_valid(outputs, p));
            r += count;
        }
    }
}

#define AK_ROWS_BF16 12
#define AK_BF16_TARGET "avx512f,avx512bw,avx512vl,avx512bf16"

/// One panel for up to 12 rows of bfloat16 activations (`xb`, `pairs` 32-bit pairs per row):
/// one `vdpbf16ps` per row and input pair.
__attribute__((target(AK_BF16_TARGET), always_inline)) static inline void ak_bf16_rows(
    const uint32_t *xb, size_t count, size_t pairs, const uint16_t *panel, float *y, size_t outputs, size_t valid) {
    __m512 sums[AK_ROWS_BF16];
    for (size_t r = 0; r < AK_ROWS_BF16; r++) sums[r] = _mm512_setzero_ps();
    for (size_t k = 0; k < pairs; k++) {
        __m512bh w = (__m512bh)_mm512_loadu_si512((const void *)(panel + k * 2 * AK_PANEL));
        for (size_t r = 0; r < AK_ROWS_BF16; r++) {
            if (r < count) sums[r] = _mm512_dpbf16_ps(sums[r], (__m512bh)_mm512_set1_epi32((int)xb[r * pairs + k]), w);
        }
    }
    __mmask16 mask = (__mmask16)((1u << valid) - 1u);
    for (size_t r = 0; r < AK_ROWS_BF16 && r < count; r++) {
        float *target = y + r * outputs;
        _mm512_mask_storeu_ps(target, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, target), sums[r]));
    }
}

#define AK_BF16_ROWS(n) \
    __attribute__((target(AK_BF16_TARGET))) static void ak_bf16_rows_##n( \
        const uint32_t *xb, size_t pairs, const uint16_t *panel, float *y, size_t outputs, size_t valid) { \
        ak_bf16_rows(xb, n, pairs, panel, y, outputs, valid); \
    }
AK_BF16_ROWS(1)
AK_BF16_ROWS(2)
AK_BF16_ROWS(3)
AK_BF16_ROWS(4)
AK_BF16_ROWS(5)
AK_BF16_ROWS(6)
AK_BF16_ROWS(7)
AK_BF16_ROWS(8)
AK_BF16_ROWS(9)
AK_BF16_ROWS(10)
AK_BF16_ROWS(11)
AK_BF16_ROWS(12)

typedef void (*ak_bf16_kernel)(const uint32_t *, size_t, const uint16_t *, float *, size_t, size_t);

/// Two adjacent full panels (32 outputs) for up to 12 rows: each broadcast activation pair feeds
/// two `vdpbf16ps`, halving the activation loads per product. Each output sums its products in
/// the same order as `ak_bf16_rows`, so results are bit-identical.
__attribute__((target(AK_BF16_TARGET), always_inline)) static inline void ak_bf16_rows_wide(
    const uint32_t *xb, size_t count, size_t pairs, const uint16_t *panel, size_t stride, float *y, size_t outputs) {
    __m512 low[AK_ROWS_BF16], high[AK_ROWS_BF16];
    for (size_t r = 0; r < AK_ROWS_BF16; r++) low[r] = high[r] = _mm512_setzero_ps();
    const uint16_t *second = panel + stride;
    for (size_t k = 0; k < pairs; k++) {
        __m512bh w0 = (__m512bh)_mm512_loadu_si512((const void *)(panel + k * 2 * AK_PANEL));
        __m512bh w1 = (__m512bh)_mm512_loadu_si512((const void *)(second + k * 2 * AK_PANEL));
        for (size_t r = 0; r < AK_ROWS_BF16; r++) {
            if (r < count) {
                __m512bh a = (__m512bh)_mm512_set1_epi32((int)xb[r * pairs + k]);
                low[r] = _mm512_dpbf16_ps(low[r], a, w0);
                high[r] = _mm512_dpbf16_ps(high[r], a, w1);
            }
        }
    }
    for (size_t r = 0; r < AK_ROWS_BF16 && r < count; r++) {
        float *target = y + r * outputs;
        _mm512_storeu_ps(target, _mm512_add_ps(_mm512_loadu_ps(target), low[r]));
        _mm512_storeu_ps(target + AK_PANEL, _mm512_add_ps(_mm512_loadu_ps(target + AK_PANEL), high[r]));
    }
}

#define AK_BF16_WIDE(n) \
    __attribute__((target(AK_BF16_TARGET))) static void ak_bf16_wide_##n( \
        const uint32_t *xb, size_t pairs, const uint16_t *panel, size_t stride, float *y, size_t outputs) { \
        ak_bf16_rows_wide(xb, n, pairs, panel, stride, y, outputs); \
    }
AK_BF16_WIDE(1)
AK_BF16_WIDE(2)
AK_BF16_WIDE(3)
AK_BF16_WIDE(4)
AK_BF16_WIDE(5)
AK_BF16_WIDE(6)
AK_BF16_WIDE(7)
AK_BF16_WIDE(8)
AK_BF16_WIDE(9)
AK_BF16_WIDE(10)
AK_BF16_WIDE(11)
AK_BF16_WIDE(12)

typedef void (*ak_bf16_wide_kernel)(const uint32_t *, size_t, const uint16_t *, size_t, float *, size_t);

/// Rounds rows of activations to bfloat16, padded to an even width (16 at a time).
__attribute__((target(AK_BF16_TARGET))) static void ak_round_rows(const float *x, size_t rows, size_t inputs, uint16_t *out) {
    size_t even = ak_even(inputs);
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * inputs;
        uint16_t *target = out + r * even;
        size_t k = 0;
        for (; k + 16 <= inputs; k += 16) {
            __m256bh rounded = _mm512_cvtneps_pbh(_mm512_loadu_ps(row + k));
            _mm256_storeu_si256((__m256i *)(target + k), (__m256i)rounded);
        }
        for (; k < inputs; k++) target[k] = ak_round_bf16(row[k]);
        if (even != inputs) target[inputs] = 0;
    }
}

static void ak_gemm_avx512bf16(const float *x, size_t rows, size_t inputs, const uint16_t *packed, size_t outputs, float *y) {
    static const ak_bf16_kernel kernels[AK_ROWS_BF16 + 1] = {
        0, ak_bf16_rows_1, ak_bf16_rows_2, ak_bf16_rows_3, ak_bf16_rows_4, ak_bf16_rows_5, ak_bf16_rows_6,
        ak_bf16_rows_7, ak_bf16_rows_8, ak_bf16_rows_9, ak_bf16_rows_10, ak_bf16_rows_11, ak_bf16_rows_12,
    };
    size_t even = ak_even(inputs), pairs = even / 2;
    uint16_t stack[4096];
    uint16_t *xb = rows * even <= 4096 ? stack : malloc(rows * even * sizeof(uint16_t));
    if (!xb) { ak_gemm_portable(x, rows, inputs, packed, outputs, AK_PATH_AVX512BF16, y); return; }
    ak_round_rows(x, rows, inputs, xb);
    static const ak_bf16_wide_kernel wide[AK_ROWS_BF16 + 1] = {
        0, ak_bf16_wide_1, ak_bf16_wide_2, ak_bf16_wide_3, ak_bf16_wide_4, ak_bf16_wide_5, ak_bf16_wide_6,
        ak_bf16_wide_7, ak_bf16_wide_8, ak_bf16_wide_9, ak_bf16_wide_10, ak_bf16_wide_11, ak_bf16_wide_12,
    };
    size_t panels = (outputs + AK_PANEL - 1) / AK_PANEL, stride = even * AK_PANEL;
    for (size_t p = 0; p < panels;) {
        const uint16_t *panel = packed + p * stride;
        // Two full panels at once where they exist; a last partial or odd panel alone.
        int two = p + 1 < panels && ak_valid(outputs, p + 1) == AK_PANEL;
        for (size_t r = 0; r < rows;) {
            size_t count = ak_block(rows - r, AK_ROWS_BF16);
            const uint32_t *block = (const uint32_t *)(xb + r * even);
            if (two) wide[count](block, pairs, panel, stride, y + r * outputs + p * AK_PANEL, outputs);
            else kernels[count](block, pairs, panel, y + r * outputs + p * AK_PANEL, outputs, ak_valid(outputs, p));
            r += count;
        }
        p += two ? 2 : 1;
    }
    if (xb != stack) free(xb);
}
#endif

void ak_gemm_bf16(const float *x, size_t rows, size_t inputs, const uint16_t *packed, size_t outputs, int path, float *y) {
    path = ak_resolve(path);
#if AK_X86
    if (ak_supported(path)) {
        if (path == AK_PATH_AVX512BF16) { ak_gemm_avx512bf16(x, rows, inputs, packed, outputs, y); return; }
        if (path == AK_PATH_AVX2) { ak_gemm_avx2(x, rows, inputs, packed, outputs, y); return; }
    }
#endif
    ak_gemm_portable(x, rows, inputs, packed, outputs, path, y);
}
