// The HNSW index's kernels: int8 dot products (AVX-512 VNNI, AVX-512BW, AVX2, portable) and the
// best-first search of layer 0. The matrix kernels of the encoder are in kernels.c.
#include "CKernels.h"
#include "kernels_internal.h"

#include <stdlib.h>
#include <string.h>

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

void ak_dot_i8_rows(const int8_t *query, const int8_t *base, size_t rows, size_t dimension, int path, int32_t *out) {
    ak_dot_i8_fn dot = ak_dot_i8_for(path);
    for (size_t i = 0; i < rows; i++) out[i] = dot(query, base + i * dimension, dimension);
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
