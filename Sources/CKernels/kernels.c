#include "CKernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AK_X86 1
#endif

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
static int ak_resolve(int path) {
    if (path <= AK_PATH_AUTO || path > AK_PATH_AVX512BF16) return ak_best_path();
    return path;
}

static int ak_supported(int path) {
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
    size_t panels = (outputs + AK_PANEL - 1) / AK_PANEL;
    for (size_t p = 0; p < panels; p++) {
        const uint16_t *panel = packed + p * even * AK_PANEL;
        for (size_t r = 0; r < rows;) {
            size_t count = ak_block(rows - r, AK_ROWS_BF16);
            kernels[count]((const uint32_t *)(xb + r * even), pairs, panel, y + r * outputs + p * AK_PANEL, outputs, ak_valid(outputs, p));
            r += count;
        }
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

// MARK: - int8 dot product

static int32_t ak_dot_i8_portable(const int8_t *a, const int8_t *b, size_t count) {
    int32_t total = 0;
    for (size_t i = 0; i < count; i++) total += (int32_t)a[i] * (int32_t)b[i];
    return total;
}

#if AK_X86
__attribute__((target("avx2"))) static int32_t ak_dot_i8_avx2(const int8_t *a, const int8_t *b, size_t count) {
    __m256i sum = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        __m256i x0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(x));
        __m256i x1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(x, 1));
        __m256i y0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(y));
        __m256i y1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(y, 1));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(x0, y0));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(x1, y1));
    }
    __m128i folded = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    folded = _mm_add_epi32(folded, _mm_shuffle_epi32(folded, 0x4e));
    folded = _mm_add_epi32(folded, _mm_shuffle_epi32(folded, 0xb1));
    int32_t total = _mm_cvtsi128_si32(folded);
    for (; i < count; i++) total += (int32_t)a[i] * (int32_t)b[i];
    return total;
}
#endif

#if AK_X86
/// AVX-512BW: 32 codes widened to int16 per step, half the instructions of the AVX2 loop.
__attribute__((target("avx512f,avx512bw"))) static int32_t ak_dot_i8_avx512(const int8_t *a, const int8_t *b, size_t count) {
    __m512i sum = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m512i x = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512i y = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + i)));
        sum = _mm512_add_epi32(sum, _mm512_madd_epi16(x, y));
    }
    int32_t total = _mm512_reduce_add_epi32(sum);
    for (; i < count; i++) total += (int32_t)a[i] * (int32_t)b[i];
    return total;
}

/// AVX-512 VNNI: `vpdpbusd` multiplies unsigned by signed bytes, 64 at a time, summing groups of
/// four into int32. The signed `a` is made unsigned by flipping its top bit (a + 128), and the
/// excess is taken off at the end: a·b = (a + 128)·b − 128·Σb, Σb from a second `vpdpbusd`
/// against ones on the same load. A masked load covers the tail (zeros add nothing).
__attribute__((target("avx512f,avx512bw,avx512vnni,bmi2"))) static int32_t ak_dot_i8_vnni(const int8_t *a, const int8_t *b, size_t count) {
    const __m512i flip = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    __m512i products = _mm512_setzero_si512(), sums = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= count; i += 64) {
        __m512i x = _mm512_xor_si512(_mm512_loadu_si512((const void *)(a + i)), flip);
        __m512i y = _mm512_loadu_si512((const void *)(b + i));
        products = _mm512_dpbusd_epi32(products, x, y);
        sums = _mm512_dpbusd_epi32(sums, ones, y);
    }
    if (i < count) {
        __mmask64 mask = _bzhi_u64(~0ULL, (unsigned)(count - i));
        __m512i x = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, (const void *)(a + i)), _mm512_maskz_mov_epi8(mask, flip));
        __m512i y = _mm512_maskz_loadu_epi8(mask, (const void *)(b + i));
        products = _mm512_dpbusd_epi32(products, x, y);
        sums = _mm512_dpbusd_epi32(sums, ones, y);
    }
    return _mm512_reduce_add_epi32(products) - 128 * _mm512_reduce_add_epi32(sums);
}

/// The int8 AVX-512 features this CPU has (detected once): 1 = AVX-512BW, 2 = VNNI as well.
static int ak_int8_avx512_level(void) {
    static int known = 0;
    int value = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (value == 0) {
        __builtin_cpu_init();
        int bw = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
        int vnni = bw && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("bmi2");
        value = vnni ? 3 : bw ? 2 : 1;
        __atomic_store_n(&known, value, __ATOMIC_RELAXED);
    }
    return value - 1;
}
#endif

typedef int32_t (*ak_dot_i8_fn)(const int8_t *, const int8_t *, size_t);

/// The int8 dot product for `path` (the AVX-512 path also needs AVX-512BW).
static ak_dot_i8_fn ak_dot_i8_for(int path) {
    path = ak_resolve(path);
#if AK_X86
    if (path >= AK_PATH_AVX512BF16 && ak_supported(AK_PATH_AVX512BF16)) {
        int level = ak_int8_avx512_level();
        if (level == 2) return ak_dot_i8_vnni;
        if (level == 1) return ak_dot_i8_avx512;
    }
    if (path >= AK_PATH_AVX2 && ak_supported(AK_PATH_AVX2)) return ak_dot_i8_avx2;
#endif
    return ak_dot_i8_portable;
}

int32_t ak_dot_i8(const int8_t *a, const int8_t *b, size_t count, int path) {
    return ak_dot_i8_for(path)(a, b, count);
}

/// Asks for one row of codes ahead of its use (a graph's rows are scattered over memory far
/// larger than the caches: the fetch overlaps the arithmetic on the rows before it).
static inline void ak_prefetch_row(const int8_t *row, size_t dimension) {
    for (size_t line = 0; line < dimension; line += 64) __builtin_prefetch((const char *)row + line, 0, 3);
}

void ak_dot_i8_gather(const int8_t *query, const int8_t *base, const int32_t *nodes, size_t count, size_t dimension, int path, int32_t *out) {
    ak_dot_i8_fn dot = ak_dot_i8_for(path);
    const size_t ahead = 3;
    for (size_t i = 0; i < count && i < ahead; i++) ak_prefetch_row(base + (size_t)nodes[i] * dimension, dimension);
    for (size_t i = 0; i < count; i++) {
        if (i + ahead < count) ak_prefetch_row(base + (size_t)nodes[i + ahead] * dimension, dimension);
        out[i] = dot(query, base + (size_t)nodes[i] * dimension, dimension);
    }
}

// MARK: - Graph search (layer 0 of the HNSW index)

typedef struct { float score; int32_t node; } ak_scored;

/// Binary heap on `ak_scored`: `max_first` puts the best score on top (the frontier), otherwise
/// the worst (the results, so the worst is dropped first).
static inline int ak_heap_before(ak_scored a, ak_scored b, int max_first) { return max_first ? a.score > b.score : a.score < b.score; }

static void ak_heap_push(ak_scored *heap, size_t *count, ak_scored item, int max_first) {
    size_t i = (*count)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ak_heap_before(item, heap[parent], max_first)) break;
        heap[i] = heap[parent];
        i = parent;
    }
    heap[i] = item;
}

static ak_scored ak_heap_pop(ak_scored *heap, size_t *count, int max_first) {
    ak_scored top = heap[0], last = heap[--(*count)];
    size_t i = 0, n = *count;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && ak_heap_before(heap[child + 1], heap[child], max_first)) child++;
        if (!ak_heap_before(heap[child], last, max_first)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (n > 0) heap[i] = last;
    return top;
}

static inline int ak_visit(uint64_t *bits, uint32_t *stamps, uint32_t generation, int32_t node) {
    if (stamps) {
        if (stamps[node] == generation) return 0;
        stamps[node] = generation;
        return 1;
    }
    uint64_t bit = 1ull << (node & 63), *word = bits + (node >> 6);
    if (*word & bit) return 0;
    *word |= bit;
    return 1;
}

size_t ak_hnsw_search0(
    const int8_t *query, float query_scale, const int8_t *codes, const float *scales, size_t dimension,
    const int32_t *links, size_t max_links, const int32_t *entries, size_t entry_count, size_t ef,
    uint64_t *visited_bits, uint32_t *visited_stamps, uint32_t generation, int path,
    int32_t *out_nodes, float *out_scores
) {
    if (ef == 0 || entry_count == 0) return 0;
    ak_dot_i8_fn dot = ak_dot_i8_for(path);
    size_t frontier_capacity = ef * 4 + entry_count, frontier_count = 0, results_count = 0;
    ak_scored *frontier = malloc(frontier_capacity * sizeof(ak_scored));
    ak_scored *results = malloc((ef + 1) * sizeof(ak_scored));
    int32_t *batch = malloc((max_links > 0 ? max_links : 1) * sizeof(int32_t));
    if (!frontier || !results || !batch) {
        free(frontier); free(results); free(batch);
        return 0;
    }
    for (size_t i = 0; i < entry_count; i++) {
        int32_t node = entries[i];
        if (!ak_visit(visited_bits, visited_stamps, generation, node)) continue;
        ak_scored item = { (float)dot(query, codes + (size_t)node * dimension, dimension) * query_scale * scales[node], node };
        ak_heap_push(frontier, &frontier_count, item, 1);
        ak_heap_push(results, &results_count, item, 0);
        if (results_count > ef) ak_heap_pop(results, &results_count, 0);
    }
    const size_t ahead = 3;
    while (frontier_count > 0) {
        ak_scored current = ak_heap_pop(frontier, &frontier_count, 1);
        if (results_count >= ef && current.score < results[0].score) break;
        const int32_t *list = links + (size_t)current.node * max_links;
        // The next node to expand: its links are fetched while this one is scored.
        if (frontier_count > 0) __builtin_prefetch(links + (size_t)frontier[0].node * max_links, 0, 3);
        size_t listed = 0;
        while (listed < max_links && list[listed] >= 0) {
            int32_t node = list[listed++];
            if (visited_stamps) __builtin_prefetch(visited_stamps + node, 1, 3);
            else __builtin_prefetch(visited_bits + (node >> 6), 1, 3);
        }
        size_t fresh = 0;
        for (size_t slot = 0; slot < listed; slot++) {
            if (ak_visit(visited_bits, visited_stamps, generation, list[slot])) batch[fresh++] = list[slot];
        }
        for (size_t i = 0; i < fresh && i < ahead; i++) ak_prefetch_row(codes + (size_t)batch[i] * dimension, dimension);
        for (size_t i = 0; i < fresh; i++) {
            if (i + ahead < fresh) ak_prefetch_row(codes + (size_t)batch[i + ahead] * dimension, dimension);
            int32_t node = batch[i];
            float score = (float)dot(query, codes + (size_t)node * dimension, dimension) * query_scale * scales[node];
            if (results_count >= ef && !(score > results[0].score)) continue;
            ak_scored item = { score, node };
            ak_heap_push(results, &results_count, item, 0);
            if (results_count > ef) ak_heap_pop(results, &results_count, 0);
            if (frontier_count == frontier_capacity) {
                ak_scored *grown = realloc(frontier, frontier_capacity * 2 * sizeof(ak_scored));
                if (!grown) continue;
                frontier = grown;
                frontier_capacity *= 2;
            }
            ak_heap_push(frontier, &frontier_count, item, 1);
        }
    }
    // Best first: pop the worst off the results heap into the back of the output.
    size_t written = results_count;
    for (size_t i = written; i > 0; i--) {
        ak_scored item = ak_heap_pop(results, &results_count, 0);
        out_nodes[i - 1] = item.node;
        out_scores[i - 1] = item.score;
    }
    free(frontier);
    free(results);
    free(batch);
    return written;
}
