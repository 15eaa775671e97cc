// LoRA shrink/expand, one adapter segment's rows per task, up to 8 rows at a time sharing
// each load of A and Bᵀ. Plain AVX2/FMA loops (and an AVX-512 twin below, chosen once per run
// when the CPU has it and the sizes are multiples of 16): a decode step has one or a few rows per adapter,
// where a BLAS call's fixed cost would exceed the arithmetic. Each row's sums run in a fixed
// order, so a row's result does not depend on how many rows share its segment or group.
// A and Bᵀ are f32, IEEE half (F16C converts 8 values per instruction) or bfloat16 (a shift
// makes an f32 of it), stored tiled in the order the loops read them (sb_a_index, sb_bt_index);
// with many distinct adapters per step the kernel is bound by the bytes of A and Bᵀ it reads,
// which the 16-bit kinds halve. A task either finishes its outputs in place or leaves its sums
// for sb_lowrank_combine (when it runs alongside the base product that writes y).
// There is no software prefetch: each task's factors are a few long streams that the hardware
// prefetcher follows, and fetching the next task ahead made the tasks 25–35% slower on a Zen 4
// host, in cache and from memory alike (docs/architecture.md).
#include "ckernels.h"
#include "lowrank_internal.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include <stdatomic.h>

static inline float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/// Most rows processed together: A and Bᵀ are read once per group instead of once per row.
/// A task's rows go in groups of 8, then 4, then the rest (1–3).
#define ROW_GROUP 8

/// Bytes per stored value.
#define ELEMENT_BYTES(storage) ((storage) == SB_FACTOR_F32 ? 4 : 2)

/// 8 consecutive weights from f32, half or bfloat16 storage, as f32.
static inline __attribute__((always_inline)) __m256 load8(const void *w, int64_t i, int storage) {
    if (storage == SB_FACTOR_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
    if (storage == SB_FACTOR_BF16)
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i))), 16));
    return _mm256_loadu_ps((const float *)w + i);
}

/// The f32 a bfloat16 stands for: its 16 bits are the f32's upper half.
static inline float bf16_value(uint16_t bits) {
    uint32_t wide = (uint32_t)bits << 16;
    float value;
    memcpy(&value, &wide, 4);
    return value;
}

/// One weight from f32, half or bfloat16 storage, as f32.
static inline __attribute__((always_inline)) float load1(const void *w, int64_t i, int storage) {
    if (storage == SB_FACTOR_F16) return _cvtsh_ss(((const uint16_t *)w)[i]);
    if (storage == SB_FACTOR_BF16) return bf16_value(((const uint16_t *)w)[i]);
    return ((const float *)w)[i];
}

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/// Independent FMA chains the loops below keep in flight: one chain would wait on the FMA
/// latency (4 cycles) every step; eight keep two FMA units busy. A decode row with its own
/// adapter (n = 1) gets its chains from 8 ranks (shrink) or 8 column blocks (expand) instead of
/// from other rows; a group of 8 rows gets them from its rows.
#define CHAINS 8

/// Accumulators the AVX-512 loops keep for a group of 2–8 rows (32 vector registers hold 16
/// and what they load): more sums per load of x, A or Bᵀ, so a segment with many rows (a
/// popular adapter, a prompt) runs at nearer the FMA rate. A lone row keeps CHAINS: it is bound
/// by memory, and 8 ranks or 128 columns at a time is the order its factors are stored in.
#define CHAINS_WIDE 16

// Both loop families read factors through running offsets, not the general tile index per
// load (sb_tiled_index), which cost more integer work than the FMAs it fed: a block of kb ranks
// (a power of two, at a multiple of kb) lies in one band of A's tiles, and a block of columns
// (a power of two of vectors, at a multiple of its width) in one tile of Bᵀ, so each block reads
// its factor front to back. Measured on a Zen 4 host, kernel alone, factors in cache: AVX-512
// f32 36 → 49 GB/s, f16 26 → 51; AVX2 f32 42 → 95, f16 22 → 64 (see docs/architecture.md).

/// The band of A's tiles (8 ranks, fewer at the end) that holds rank k0: its first rank and height.
ALWAYS_INLINE int a_band(int k0, int rank, int *height) {
    const int band = k0 / SB_A_TILE_ROWS * SB_A_TILE_ROWS;
    *height = rank - band < SB_A_TILE_ROWS ? rank - band : SB_A_TILE_ROWS;
    return band;
}

/// Bᵀ's element (0, j0) for a block of columns that lies in one tile (every rank × 128 columns,
/// fewer at the end), and the tile's width, by which the offset moves from rank to rank:
/// (k, j) is at column0·rank + k·width + (j − column0).
ALWAYS_INLINE int64_t bt_block_start(int j0, int rank, int out, int *width) {
    const int column0 = j0 / SB_BT_TILE_COLUMNS * SB_BT_TILE_COLUMNS;
    *width = out - column0 < SB_BT_TILE_COLUMNS ? out - column0 : SB_BT_TILE_COLUMNS;
    return (int64_t)column0 * rank + (j0 - column0);
}

/// u[r][k0 + kk] = x_r · A[k0 + kk] for r < n, kk < kb (n·kb ≤ CHAINS; both constants after
/// inlining, so the accumulators live in registers). Each (r, k) sum has one accumulator that
/// takes x in order, 8 lanes at a time, then the lanes' sum and the tail: the same arithmetic
/// whatever n and kb are, so a row's result never depends on the rows or ranks beside it.
ALWAYS_INLINE void shrink_block(const float *const *xs, int n, int kb, const void *a, int storage, int k0, int rank, int in,
                                float (*u)[SB_LOWRANK_MAX_RANK]) {
    __m256 acc[CHAINS];
    for (int c = 0; c < n * kb; c++) acc[c] = _mm256_setzero_ps();
    // The band's tiles (16 inputs wide, the last one narrower) follow one another; in a tile of
    // width w, (k, column0 + c) is at tile + (k − band)·w + c. The vector steps take x 8 values
    // at a time up to the last multiple of 8, as before; the tail below uses the general index.
    int height;
    const int band = a_band(k0, rank, &height);
    int64_t tile = (int64_t)band * in;
    int i = 0;
    for (int column0 = 0; column0 < in; column0 += SB_A_TILE_COLUMNS) {
        const int width = in - column0 < SB_A_TILE_COLUMNS ? in - column0 : SB_A_TILE_COLUMNS;
        const int64_t row = tile + (int64_t)(k0 - band) * width;
        for (int c = 0; c + 8 <= width; c += 8, i += 8) {
            for (int kk = 0; kk < kb; kk++) {
                __m256 w = load8(a, row + (int64_t)kk * width + c, storage);
                for (int r = 0; r < n; r++) acc[r * kb + kk] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[r] + i), w, acc[r * kb + kk]);
            }
        }
        tile += (int64_t)height * width;
    }
    for (int r = 0; r < n; r++) {
        for (int kk = 0; kk < kb; kk++) {
            float sum = hsum8(acc[r * kb + kk]);
            for (int t = i; t < in; t++) sum += xs[r][t] * load1(a, sb_a_index(k0 + kk, t, rank, in), storage);
            u[r][k0 + kk] = sum;
        }
    }
}

/// shrink for n ≤ ROW_GROUP rows: ranks in blocks of CHAINS / n.
ALWAYS_INLINE void shrink_rows_n(const float *const *xs, int n, const void *a, int storage, int rank, int in,
                                 float (*u)[SB_LOWRANK_MAX_RANK]) {
    const int kb = CHAINS / n;
    int k = 0;
    for (; k + kb <= rank; k += kb) shrink_block(xs, n, kb, a, storage, k, rank, in, u);
    for (; k < rank; k++) shrink_block(xs, n, 1, a, storage, k, rank, in, u);
}

/// The DoRA factor c_j = 1 + w·(g_j − 1) of columns j … j+7, or 1 without a gain. The in-place
/// finish and the separate combine (`sb_lowrank_combine`) both take it from here, so they agree
/// to the bit.
ALWAYS_INLINE __m256 gain8(const float *gain, float gain_weight, int j) {
    if (!gain) return _mm256_set1_ps(1.0f);
    __m256 g = _mm256_loadu_ps(gain + j);
    return _mm256_add_ps(_mm256_set1_ps(1.0f),
                         _mm256_mul_ps(_mm256_set1_ps(gain_weight), _mm256_sub_ps(g, _mm256_set1_ps(1.0f))));
}

/// The same factor for one column (scalar tails).
ALWAYS_INLINE float gain1(const float *gain, float gain_weight, int j) {
    return gain ? 1.0f + gain_weight * (gain[j] - 1.0f) : 1.0f;
}

/// d[r][j0 + 8·jj …] = Σ_k u[r][k]·Bᵀ[k] for r < n, jj < jb (n·jb ≤ CHAINS), the ranks added in
/// order by fused multiply-adds from zero. Then, in place, y = c ⊙ y + d (one fused multiply-add),
/// or, when `to_delta`, the sum d itself is stored (ys point at delta rows; see the combine).
ALWAYS_INLINE void expand_block(float (*u)[SB_LOWRANK_MAX_RANK], int n, int jb, const void *bt, int storage, int rank,
                                int out, int j0, const float *gain, float gain_weight, float *const *ys, int to_delta) {
    __m256 acc[CHAINS];
    for (int c = 0; c < n * jb; c++) acc[c] = _mm256_setzero_ps();
    int width;
    int64_t at = bt_block_start(j0, rank, out, &width);
    for (int k = 0; k < rank; k++, at += width) {
        for (int jj = 0; jj < jb; jj++) {
            __m256 w = load8(bt, at + 8 * jj, storage);
            for (int r = 0; r < n; r++)
                acc[r * jb + jj] = _mm256_fmadd_ps(_mm256_set1_ps(u[r][k]), w, acc[r * jb + jj]);
        }
    }
    for (int jj = 0; jj < jb; jj++) {
        const int j = j0 + 8 * jj;
        const __m256 c = gain8(gain, gain_weight, j);
        for (int r = 0; r < n; r++) {
            __m256 value = to_delta ? acc[r * jb + jj] : _mm256_fmadd_ps(c, _mm256_loadu_ps(ys[r] + j), acc[r * jb + jj]);
            _mm256_storeu_ps(ys[r] + j, value);
        }
    }
}

/// expand for n ≤ ROW_GROUP rows: columns in blocks of 8·(CHAINS / n), then 8, then one by one.
ALWAYS_INLINE void expand_rows_n(float (*u)[SB_LOWRANK_MAX_RANK], int n, const void *bt, int storage, int rank, int out,
                                 const float *gain, float gain_weight, float *const *ys, int to_delta) {
    const int jb = CHAINS / n;
    int j = 0;
    for (; j + 8 * jb <= out; j += 8 * jb) expand_block(u, n, jb, bt, storage, rank, out, j, gain, gain_weight, ys, to_delta);
    for (; j + 8 <= out; j += 8) expand_block(u, n, 1, bt, storage, rank, out, j, gain, gain_weight, ys, to_delta);
    for (int r = 0; r < n; r++) {
        for (int t = j; t < out; t++) {
            float sum = 0;
            for (int k = 0; k < rank; k++) sum = fmaf(u[r][k], load1(bt, sb_bt_index(k, t, rank, out), storage), sum);
            ys[r][t] = to_delta ? sum : fmaf(gain1(gain, gain_weight, t), ys[r][t], sum);
        }
    }
}

/// One group of n rows of a task: shrink, scale, expand, with n and the storage type made
/// constants so that each combination compiles to its own register-resident loops.
ALWAYS_INLINE void group_n(const sb_lowrank_task *task, int n, int storage, const float *const *xs, float *const *ys,
                           int to_delta, float (*u)[SB_LOWRANK_MAX_RANK]) {
    shrink_rows_n(xs, n, task->a, storage, task->rank, task->in_features, u);
    for (int r = 0; r < n; r++)
        for (int k = 0; k < task->rank; k++) u[r][k] *= task->scale;
    expand_rows_n(u, n, task->bt, storage, task->rank, task->out_features, task->gain, task->gain_weight, ys, to_delta);
}

/// Calls GROUP(task, n, storage, xs, ys, to_delta, u) with the row count n (1–4 or 8) and the storage
/// kind as constants, so that each combination runs its own register-resident loops.
#define CALL_BY_ROWS(GROUP, STORAGE)                               \
    switch (n) {                                                   \
    case 1: GROUP(task, 1, STORAGE, xs, ys, to_delta, u); break;   \
    case 2: GROUP(task, 2, STORAGE, xs, ys, to_delta, u); break;   \
    case 3: GROUP(task, 3, STORAGE, xs, ys, to_delta, u); break;   \
    case 4: GROUP(task, 4, STORAGE, xs, ys, to_delta, u); break;   \
    default: GROUP(task, 8, STORAGE, xs, ys, to_delta, u); break;  \
    }
#define CALL_BY_STORAGE_AND_ROWS(GROUP)                           \
    switch (task->storage) {                                      \
    case SB_FACTOR_F16: CALL_BY_ROWS(GROUP, SB_FACTOR_F16) break; \
    case SB_FACTOR_BF16: CALL_BY_ROWS(GROUP, SB_FACTOR_BF16) break; \
    default: CALL_BY_ROWS(GROUP, SB_FACTOR_F32) break;            \
    }

/// One group of rows on the AVX2 path, dispatched to the loops compiled for its row count and
/// storage type.
static void group8(const sb_lowrank_task *task, int n, const float *const *xs, float *const *ys, int to_delta,
                   float (*u)[SB_LOWRANK_MAX_RANK]) {
    CALL_BY_STORAGE_AND_ROWS(group_n);
}

// ---- AVX-512 variant: 16 lanes, the same structure and the same per-output order rules. Used
// for every task whose in and out features are multiples of 16 when the CPU has AVX-512F (the
// choice is the same for a whole run, so a row's result still never depends on its neighbours).
// Groups of 2–8 rows keep up to CHAINS_WIDE accumulators (n·kb, n·jb ≤ 16; 12 for three rows):
// each (row, rank) or (row, column) sum still has its own accumulator and order, so the width
// changes speed only.

#define AVX512 static inline __attribute__((always_inline, target("avx512f")))

AVX512 __m512 load16(const void *w, int64_t i, int storage) {
    if (storage == SB_FACTOR_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i)));
    if (storage == SB_FACTOR_BF16)
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + i))), 16));
    return _mm512_loadu_ps((const float *)w + i);
}

AVX512 void shrink_block16(const float *const *xs, int n, int kb, const void *a, int storage, int k0, int rank, int in,
                           float (*u)[SB_LOWRANK_MAX_RANK]) {
    __m512 acc[CHAINS_WIDE];
    for (int c = 0; c < n * kb; c++) acc[c] = _mm512_setzero_ps();
    // in % 16 == 0 here, so every tile of the band is 16 wide: (k, i) is at
    // band·in + i·height + (k − band)·16, and the block's offset moves by 16·height per step.
    int height;
    const int band = a_band(k0, rank, &height);
    int64_t at = (int64_t)band * in + (int64_t)(k0 - band) * SB_A_TILE_COLUMNS;
    for (int i = 0; i < in; i += 16, at += (int64_t)height * SB_A_TILE_COLUMNS) {
        for (int kk = 0; kk < kb; kk++) {
            __m512 w = load16(a, at + kk * SB_A_TILE_COLUMNS, storage);
            for (int r = 0; r < n; r++) acc[r * kb + kk] = _mm512_fmadd_ps(_mm512_loadu_ps(xs[r] + i), w, acc[r * kb + kk]);
        }
    }
    for (int r = 0; r < n; r++)
        for (int kk = 0; kk < kb; kk++) u[r][k0 + kk] = _mm512_reduce_add_ps(acc[r * kb + kk]);
}

AVX512 __m512 gain16(const float *gain, float gain_weight, int j) {
    if (!gain) return _mm512_set1_ps(1.0f);
    __m512 g = _mm512_loadu_ps(gain + j);
    return _mm512_add_ps(_mm512_set1_ps(1.0f),
                         _mm512_mul_ps(_mm512_set1_ps(gain_weight), _mm512_sub_ps(g, _mm512_set1_ps(1.0f))));
}

AVX512 void expand_block16(float (*u)[SB_LOWRANK_MAX_RANK], int n, int jb, const void *bt, int storage, int rank,
                           int out, int j0, const float *gain, float gain_weight, float *const *ys, int to_delta) {
    __m512 acc[CHAINS_WIDE];
    for (int c = 0; c < n * jb; c++) acc[c] = _mm512_setzero_ps();
    int width;
    int64_t at = bt_block_start(j0, rank, out, &width);
    for (int k = 0; k < rank; k++, at += width) {
        for (int jj = 0; jj < jb; jj++) {
            __m512 w = load16(bt, at + 16 * jj, storage);
            for (int r = 0; r < n; r++)
                acc[r * jb + jj] = _mm512_fmadd_ps(_mm512_set1_ps(u[r][k]), w, acc[r * jb + jj]);
        }
    }
    for (int jj = 0; jj < jb; jj++) {
        const int j = j0 + 16 * jj;
        const __m512 c = gain16(gain, gain_weight, j);
        for (int r = 0; r < n; r++) {
            __m512 value = to_delta ? acc[r * jb + jj] : _mm512_fmadd_ps(c, _mm512_loadu_ps(ys[r] + j), acc[r * jb + jj]);
            _mm512_storeu_ps(ys[r] + j, value);
        }
    }
}

AVX512 void group16_n(const sb_lowrank_task *task, int n, int storage, const float *const *xs, float *const *ys,
                      int to_delta, float (*u)[SB_LOWRANK_MAX_RANK]) {
    // Blocks of a power of two ranks or 16-column vectors (8, 4 or 2, at multiples of their size)
    // never straddle a band of A or a tile of Bᵀ; three rows take 4, not 5.
    const int blockSize = n == 1 ? CHAINS : n == 2 ? 8 : n <= 4 ? 4 : 2;
    const int kb = blockSize, in = task->in_features, out = task->out_features, rank = task->rank;
    int k = 0;
    for (; k + kb <= rank; k += kb) shrink_block16(xs, n, kb, task->a, storage, k, rank, in, u);
    for (; k < rank; k++) shrink_block16(xs, n, 1, task->a, storage, k, rank, in, u);
    for (int r = 0; r < n; r++)
        for (int kk = 0; kk < rank; kk++) u[r][kk] *= task->scale;
    const int jb = blockSize;
    int j = 0;
    for (; j + 16 * jb <= out; j += 16 * jb) expand_block16(u, n, jb, task->bt, storage, rank, out, j, task->gain, task->gain_weight, ys, to_delta);
    for (; j < out; j += 16) expand_block16(u, n, 1, task->bt, storage, rank, out, j, task->gain, task->gain_weight, ys, to_delta);
}

/// group8's AVX-512 twin.
__attribute__((target("avx512f")))
static void group16(const sb_lowrank_task *task, int n, const float *const *xs, float *const *ys, int to_delta,
                    float (*u)[SB_LOWRANK_MAX_RANK]) {
    CALL_BY_STORAGE_AND_ROWS(group16_n);
}

/// Decided once per process from the CPU alone (not the panel kernel's switch, which tests
/// flip): a row's LoRA result must never change between steps or between tests running at once.
static int cpu_has_avx512(void) {
    static atomic_int choice = -1;
    int value = atomic_load(&choice);
    if (value < 0) {
        value = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store(&choice, value);
    }
    return value;
}

void sb_lowrank_run_task(const sb_lowrank_task *task, const float *x, int ldx, float *out, int ldo, int to_delta) {
    const int use512 = cpu_has_avx512() && task->in_features % 16 == 0 && task->out_features % 16 == 0;
    float u[ROW_GROUP][SB_LOWRANK_MAX_RANK];
    for (int first = 0, n; first < task->rows; first += n) {
        const int left = task->rows - first;
        n = left >= 8 ? 8 : left >= 4 ? 4 : left;
        const float *xs[ROW_GROUP];
        float *ys[ROW_GROUP];
        for (int r = 0; r < n; r++) {
            int64_t row = task->first_row + first + r;
            xs[r] = x + row * ldx;
            ys[r] = out + row * ldo + task->y_offset;
        }
        if (use512) group16(task, n, xs, ys, to_delta, u);
        else group8(task, n, xs, ys, to_delta, u);
    }
}

void sb_lowrank_combine(const sb_lowrank_task *tasks, int begin, int end, const float *delta, float *y, int ldy) {
    for (int t = begin; t < end; t++) {
        const sb_lowrank_task *task = &tasks[t];
        const int out = task->out_features;
        for (int r = 0; r < task->rows; r++) {
            const int64_t row = task->first_row + r;
            float *yr = y + row * ldy + task->y_offset;
            const float *dr = delta + row * ldy + task->y_offset;
            // Same split as the expand: vectors up to the last multiple of 8, then scalars.
            int j = 0;
            for (; j + 8 <= out; j += 8)
                _mm256_storeu_ps(yr + j, _mm256_fmadd_ps(gain8(task->gain, task->gain_weight, j), _mm256_loadu_ps(yr + j),
                                                         _mm256_loadu_ps(dr + j)));
            for (; j < out; j++) yr[j] = fmaf(gain1(task->gain, task->gain_weight, j), yr[j], dr[j]);
        }
    }
}

typedef struct {
    const sb_lowrank_task *tasks;
    const float *x;
    int ldx;
    float *y;
    int ldy;
} lowrank_ctx;

static void lowrank_range(void *p, int begin, int end) {
    const lowrank_ctx *ctx = p;
    for (int t = begin; t < end; t++) sb_lowrank_run_task(&ctx->tasks[t], ctx->x, ctx->ldx, ctx->y, ctx->ldy, 0);
}

void sb_lowrank_apply(const sb_lowrank_task *tasks, int count, const float *x, int ldx,
                      float *y, int ldy) {
    if (count <= 0) return;
    lowrank_ctx ctx = { tasks, x, ldx, y, ldy };
    sb_parallel_for(count, 1, lowrank_range, &ctx);
}

void sb_f32_to_f16(const float *src, uint16_t *dst, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; i++) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}


void sb_f32_to_bf16(const float *src, uint16_t *dst, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &src[i], 4);
        if ((bits & 0x7fffffffu) > 0x7f800000u) { dst[i] = (uint16_t)((bits >> 16) | 0x40); continue; }  // quiet NaN
        bits += 0x7fffu + ((bits >> 16) & 1);  // round to nearest, ties to even
        dst[i] = (uint16_t)(bits >> 16);
    }
}
