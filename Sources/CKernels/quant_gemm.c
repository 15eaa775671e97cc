// Quantized small-batch GEMM kernels (they run on the pool in thread_pool.c).
#include "ckernels_quant.h"
#include "ckernels_lowrank.h"
#include "lowrank_internal.h"
#include <immintrin.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

// ---------------------------------------------------------------------------------------
// Kernels.

typedef struct {
    const float *x; int ldx; int rows;
    const uint8_t *w; int inFeatures;
    float *y; int ldy; int accumulate;
    const float *blockSums;   // [rows, inFeatures/32]: sum of x over each block (Q4_1's m term)
} gemm_ctx;

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// Decodes one Q4_1 block's 32 quants, scaled by d: out[0..3] hold values 0-7, 8-15, 16-23, 24-31.
static inline void q4_1_scaled(const uint8_t *blk, __m256 out[4]) {
    const __m256i low = _mm256_set1_epi32(0xF);
    __m256 d = _mm256_set1_ps(f16(blk));
    // Nibbles: bytes 0-15 low halves are values 0-15, high halves values 16-31.
    __m128i bytes = _mm_loadu_si128((const __m128i *)(blk + 4));
    __m256i b0 = _mm256_cvtepu8_epi32(bytes);
    __m256i b1 = _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
    out[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b0, low)));
    out[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b1, low)));
    out[2] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b0, 4)));
    out[3] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b1, 4)));
}

// Decodes one Q8_0 block's 32 quants, scaled by d.
static inline void q8_0_scaled(const uint8_t *blk, __m256 out[4]) {
    __m256 d = _mm256_set1_ps(f16(blk));
    __m128i lo = _mm_loadu_si128((const __m128i *)(blk + 2));
    __m128i hi = _mm_loadu_si128((const __m128i *)(blk + 18));
    out[0] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)));
    out[1] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))));
    out[2] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)));
    out[3] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))));
}

// y[m, n] = sum over blocks of (d*q) · x_block, plus for Q4_1 m * sum(x_block).
// Each x row keeps four accumulators (one per 8-value slice of a block), so consecutive
// FMAs are independent and the loop runs at FMA throughput rather than FMA latency.
// `rows` and `isQ4_1` are compile-time constants at each call site below, so the loops over
// rows unroll and the accumulators stay in registers.
static inline __attribute__((always_inline))
void vector_rows(const gemm_ctx *c, const int isQ4_1, const int rows, int begin, int end) {
    const int blocks = c->inFeatures / 32;
    const int blockBytes = isQ4_1 ? 20 : 34;
    for (int n = begin; n < end; n++) {
        const uint8_t *row = c->w + (long)n * blocks * blockBytes;
        __m256 acc[SB_QUANT_MAX_ROWS][4];
        float offset[SB_QUANT_MAX_ROWS];
        for (int m = 0; m < rows; m++) {
            for (int j = 0; j < 4; j++) acc[m][j] = _mm256_setzero_ps();
            offset[m] = 0;
        }
        for (int b = 0; b < blocks; b++) {
            const uint8_t *blk = row + b * blockBytes;
            __m256 q[4];
            if (isQ4_1) q4_1_scaled(blk, q); else q8_0_scaled(blk, q);
            for (int m = 0; m < rows; m++) {
                const float *xb = c->x + (long)m * c->ldx + b * 32;
                acc[m][0] = _mm256_fmadd_ps(q[0], _mm256_loadu_ps(xb), acc[m][0]);
                acc[m][1] = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xb + 8), acc[m][1]);
                acc[m][2] = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xb + 16), acc[m][2]);
                acc[m][3] = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xb + 24), acc[m][3]);
            }
            if (isQ4_1) {
                float mn = f16(blk + 2);
                for (int m = 0; m < rows; m++) offset[m] += mn * c->blockSums[m * blocks + b];
            }
        }
        for (int m = 0; m < rows; m++) {
            __m256 total = _mm256_add_ps(_mm256_add_ps(acc[m][0], acc[m][1]), _mm256_add_ps(acc[m][2], acc[m][3]));
            float v = hsum(total) + offset[m];
            float *out = c->y + (long)m * c->ldy + n;
            *out = c->accumulate ? *out + v : v;
        }
    }
}

static void vector_task(const gemm_ctx *c, int isQ4_1, int begin, int end) {
    switch (c->rows) {
    case 1: if (isQ4_1) vector_rows(c, 1, 1, begin, end); else vector_rows(c, 0, 1, begin, end); break;
    case 2: if (isQ4_1) vector_rows(c, 1, 2, begin, end); else vector_rows(c, 0, 2, begin, end); break;
    default: vector_rows(c, isQ4_1, c->rows, begin, end); break;
    }
}

static void q4_1_task(void *arg, int begin, int end) { vector_task(arg, 1, begin, end); }
static void q8_0_task(void *arg, int begin, int end) { vector_task(arg, 0, begin, end); }

void sb_gemm_q4_1(const float *x, int ldx, int rows, const void *w, int inFeatures, int outFeatures,
                  float *y, int ldy, int accumulate) {
    int blocks = inFeatures / 32;
    float sums[SB_QUANT_MAX_ROWS * 1024];
    float *blockSums = rows * blocks <= SB_QUANT_MAX_ROWS * 1024 ? sums : NULL;
    if (!blockSums) return;  // unreachable: QuantizedMatrix admits inFeatures <= 32768 only
    for (int m = 0; m < rows; m++)
        for (int b = 0; b < blocks; b++) {
            const float *xb = x + (long)m * ldx + b * 32;
            float s = 0;
            for (int i = 0; i < 32; i++) s += xb[i];
            blockSums[m * blocks + b] = s;
        }
    gemm_ctx c = { x, ldx, rows, w, inFeatures, y, ldy, accumulate, blockSums };
    sb_parallel_for(outFeatures, 8, q4_1_task, &c);
}

void sb_gemm_q8_0(const float *x, int ldx, int rows, const void *w, int inFeatures, int outFeatures,
                  float *y, int ldy, int accumulate) {
    gemm_ctx c = { x, ldx, rows, w, inFeatures, y, ldy, accumulate, NULL };
    sb_parallel_for(outFeatures, 8, q8_0_task, &c);
}

// ---------------------------------------------------------------------------------------
// Panel kernel: dequantize 4 weight rows, multiply every x row against them.

typedef struct {
    int type;
    const float *x; int ldx; int rows;
    const uint8_t *w; int inFeatures; int outFeatures;
    float *y; int ldy; int accumulate;
} panel_ctx;

// One weight row of `blocks` blocks into `out` (f32, same values as the plain dequantizer).
static inline void dequantize_row(int type, const uint8_t *row, int blocks, float *out) {
    if (type == 3) {  // Q4_1: d*q + m (product first, then add: matches the reference order)
        const __m256i low = _mm256_set1_epi32(0xF);
        for (int b = 0; b < blocks; b++) {
            const uint8_t *blk = row + b * 20;
            __m256 d = _mm256_set1_ps(f16(blk)), m = _mm256_set1_ps(f16(blk + 2));
            __m128i bytes = _mm_loadu_si128((const __m128i *)(blk + 4));
            __m256i b0 = _mm256_cvtepu8_epi32(bytes), b1 = _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
            float *o = out + b * 32;
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b0, low))), m));
            _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b1, low))), m));
            _mm256_storeu_ps(o + 16, _mm256_add_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b0, 4))), m));
            _mm256_storeu_ps(o + 24, _mm256_add_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b1, 4))), m));
        }
    } else {          // Q8_0: d*q
        for (int b = 0; b < blocks; b++) {
            const uint8_t *blk = row + b * 34;
            __m256 d = _mm256_set1_ps(f16(blk));
            __m128i lo = _mm_loadu_si128((const __m128i *)(blk + 2)), hi = _mm_loadu_si128((const __m128i *)(blk + 18));
            float *o = out + b * 32;
            _mm256_storeu_ps(o, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
            _mm256_storeu_ps(o + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
            _mm256_storeu_ps(o + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
            _mm256_storeu_ps(o + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
        }
    }
}

static inline void store_out(float *y, float v, int accumulate) { *y = accumulate ? *y + v : v; }

// AVX-512 version of the panel product (most x86 servers of this project's kind have it; the
// choice is made once at run time): four x rows against four weight rows, 16 accumulators
// of 16 lanes. Handles every row of x; nw weight rows are valid (the rest of the panel is 0).
__attribute__((target("avx512f")))
static void panel_rows_avx512(const panel_ctx *c, const float *panel, int n0, int nw, int mBegin, int mEnd) {
    const int K = c->inFeatures;
    const float *w0 = panel, *w1 = panel + K, *w2 = panel + 2 * K, *w3 = panel + 3 * K;
    int m = mBegin;
    for (; m + 4 <= mEnd; m += 4) {
        const float *x0 = c->x + (long)m * c->ldx, *x1 = x0 + c->ldx, *x2 = x1 + c->ldx, *x3 = x2 + c->ldx;
        __m512 a[4][4];
        for (int r = 0; r < 4; r++) for (int j = 0; j < 4; j++) a[r][j] = _mm512_setzero_ps();
        for (int k = 0; k < K; k += 16) {
            __m512 v0 = _mm512_loadu_ps(x0 + k), v1 = _mm512_loadu_ps(x1 + k);
            __m512 v2 = _mm512_loadu_ps(x2 + k), v3 = _mm512_loadu_ps(x3 + k);
            __m512 w = _mm512_load_ps(w0 + k);
            a[0][0] = _mm512_fmadd_ps(v0, w, a[0][0]); a[1][0] = _mm512_fmadd_ps(v1, w, a[1][0]);
            a[2][0] = _mm512_fmadd_ps(v2, w, a[2][0]); a[3][0] = _mm512_fmadd_ps(v3, w, a[3][0]);
            w = _mm512_load_ps(w1 + k);
            a[0][1] = _mm512_fmadd_ps(v0, w, a[0][1]); a[1][1] = _mm512_fmadd_ps(v1, w, a[1][1]);
            a[2][1] = _mm512_fmadd_ps(v2, w, a[2][1]); a[3][1] = _mm512_fmadd_ps(v3, w, a[3][1]);
            w = _mm512_load_ps(w2 + k);
            a[0][2] = _mm512_fmadd_ps(v0, w, a[0][2]); a[1][2] = _mm512_fmadd_ps(v1, w, a[1][2]);
            a[2][2] = _mm512_fmadd_ps(v2, w, a[2][2]); a[3][2] = _mm512_fmadd_ps(v3, w, a[3][2]);
            w = _mm512_load_ps(w3 + k);
            a[0][3] = _mm512_fmadd_ps(v0, w, a[0][3]); a[1][3] = _mm512_fmadd_ps(v1, w, a[1][3]);
            a[2][3] = _mm512_fmadd_ps(v2, w, a[2][3]); a[3][3] = _mm512_fmadd_ps(v3, w, a[3][3]);
        }
        for (int r = 0; r < 4; r++) {
            float *yr = c->y + (long)(m + r) * c->ldy + n0;
            for (int j = 0; j < nw; j++) store_out(yr + j, _mm512_reduce_add_ps(a[r][j]), c->accumulate);
        }
    }
    for (; m < mEnd; m++) {
        const float *x0 = c->x + (long)m * c->ldx;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k < K; k += 16) {
            __m512 v0 = _mm512_loadu_ps(x0 + k);
            a0 = _mm512_fmadd_ps(v0, _mm512_load_ps(w0 + k), a0);
            a1 = _mm512_fmadd_ps(v0, _mm512_load_ps(w1 + k), a1);
            a2 = _mm512_fmadd_ps(v0, _mm512_load_ps(w2 + k), a2);
            a3 = _mm512_fmadd_ps(v0, _mm512_load_ps(w3 + k), a3);
        }
        float r0[4] = { _mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1), _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a3) };
        float *y0 = c->y + (long)m * c->ldy + n0;
        for (int j = 0; j < nw; j++) store_out(y0 + j, r0[j], c->accumulate);
    }
}

static atomic_int avx512_choice = -1;  // -1: not decided yet

static int has_avx512(void) {
    int choice = atomic_load(&avx512_choice);
    if (choice < 0) {
        choice = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store(&avx512_choice, choice);
    }
    return choice;
}

int sb_avx512_in_use(void) { return has_avx512(); }

int sb_set_avx512(int enabled) {
    int available = __builtin_cpu_supports("avx512f") ? 1 : 0;
    atomic_store(&avx512_choice, enabled && available);
    return enabled && available;
}

// Weight rows [begin, end) of this thread's slice against x rows [mBegin, mEnd).
static void panel_block(const panel_ctx *c, float *panel, int begin, int end, int mBegin, int mEnd, int use512) {
    const int K = c->inFeatures, blocks = K / 32;
    const int rowBytes = blocks * (c->type == 3 ? 20 : 34);
    for (int n0 = begin; n0 < end; n0 += 4) {
        int nw = end - n0 < 4 ? end - n0 : 4;
        for (int j = 0; j < nw; j++) dequantize_row(c->type, c->w + (long)(n0 + j) * rowBytes, blocks, panel + j * K);
        for (int j = nw; j < 4; j++) memset(panel + j * K, 0, sizeof(float) * K);
        if (use512) {
            panel_rows_avx512(c, panel, n0, nw, mBegin, mEnd);
            continue;
        }
        const float *w0 = panel, *w1 = panel + K, *w2 = panel + 2 * K, *w3 = panel + 3 * K;
        int m = mBegin;
        // Two x rows against four weight rows: 8 accumulators, 6 loads per 8 FMAs.
        for (; m + 2 <= mEnd; m += 2) {
            const float *x0 = c->x + (long)m * c->ldx, *x1 = x0 + c->ldx;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
            __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            for (int k = 0; k < K; k += 8) {
                __m256 v0 = _mm256_loadu_ps(x0 + k), v1 = _mm256_loadu_ps(x1 + k);
                __m256 w = _mm256_load_ps(w0 + k);
                a00 = _mm256_fmadd_ps(v0, w, a00); a10 = _mm256_fmadd_ps(v1, w, a10);
                w = _mm256_load_ps(w1 + k);
                a01 = _mm256_fmadd_ps(v0, w, a01); a11 = _mm256_fmadd_ps(v1, w, a11);
                w = _mm256_load_ps(w2 + k);
                a02 = _mm256_fmadd_ps(v0, w, a02); a12 = _mm256_fmadd_ps(v1, w, a12);
                w = _mm256_load_ps(w3 + k);
                a03 = _mm256_fmadd_ps(v0, w, a03); a13 = _mm256_fmadd_ps(v1, w, a13);
            }
            float *y0 = c->y + (long)m * c->ldy + n0, *y1 = y0 + c->ldy;
            float r0[4] = { hsum(a00), hsum(a01), hsum(a02), hsum(a03) };
            float r1[4] = { hsum(a10), hsum(a11), hsum(a12), hsum(a13) };
            for (int j = 0; j < nw; j++) { store_out(y0 + j, r0[j], c->accumulate); store_out(y1 + j, r1[j], c->accumulate); }
        }
        for (; m < mEnd; m++) {
            const float *x0 = c->x + (long)m * c->ldx;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int k = 0; k < K; k += 8) {
                __m256 v0 = _mm256_loadu_ps(x0 + k);
                a0 = _mm256_fmadd_ps(v0, _mm256_load_ps(w0 + k), a0);
                a1 = _mm256_fmadd_ps(v0, _mm256_load_ps(w1 + k), a1);
                a2 = _mm256_fmadd_ps(v0, _mm256_load_ps(w2 + k), a2);
                a3 = _mm256_fmadd_ps(v0, _mm256_load_ps(w3 + k), a3);
            }
            float *y0 = c->y + (long)m * c->ldy + n0;
            float r0[4] = { hsum(a0), hsum(a1), hsum(a2), hsum(a3) };
            for (int j = 0; j < nw; j++) store_out(y0 + j, r0[j], c->accumulate);
        }
    }
}

#define PANEL_ROW_BLOCK 128

// Per-thread panel of 4 dequantized weight rows of K values, grown on demand.
static float *thread_panel(int K) {
    static __thread float *panel = NULL;
    static __thread int capacity = 0;
    if (capacity < 4 * K) {
        free(panel);
        panel = aligned_alloc(64, sizeof(float) * 4 * (size_t)K);
        capacity = 4 * K;
    }
    return panel;
}

// Weight rows [begin, end) against every x row.
static void panel_columns(const panel_ctx *c, int begin, int end) {
    const int K = c->inFeatures;
    const int use512 = has_avx512() && K % 16 == 0;
    float *panel = thread_panel(K);
    // Rows in blocks that stay in L2 while every panel of this slice runs over them.
    for (int mBegin = 0; mBegin < c->rows; mBegin += PANEL_ROW_BLOCK) {
        int mEnd = c->rows - mBegin < PANEL_ROW_BLOCK ? c->rows : mBegin + PANEL_ROW_BLOCK;
        panel_block(c, panel, begin, end, mBegin, mEnd, use512);
    }
}

static void panel_task(void *arg, int begin, int end) { panel_columns(arg, begin, end); }

void sb_gemm_quant_panel(int type, const float *x, int ldx, int rows, const void *w, int inFeatures,
                         int outFeatures, float *y, int ldy, int accumulate) {
    panel_ctx c = { type, x, ldx, rows, w, inFeatures, outFeatures, y, ldy, accumulate };
    sb_parallel_for(outFeatures, 8, panel_task, &c);
}

// ---------------------------------------------------------------------------------------
// The base product and its low-rank tasks at once. The panels are bound by arithmetic and
// leave the memory bus idle; the low-rank tasks are bound by reading their factors, and one
// core alone reads memory almost as fast as two. So instead of running one after the other
// on both cores, the two kinds of work share a parallel region: one thread starts on the
// low-rank tasks while the other starts on the panels, and each, when its own kind runs out,
// takes from the other's (both are claimed piecewise from shared counters, so the threads
// finish together). The low-rank tasks write their sums to a separate buffer, since the panels
// may not have written those outputs yet; once every piece is done, the threads turn each
// task's outputs into y = c ⊙ y + delta, the same bits as sb_lowrank_apply after
// sb_gemm_quant_panel.

// Output columns per claimed piece of the panel product (a multiple of the 4-row panel; small,
// so that the threads finish close together).
#define PANEL_CHUNK 32

typedef struct {
    panel_ctx panel;
    const sb_lowrank_task *tasks; int taskCount;
    float *delta;
    int chunks;
    atomic_int nextChunk, nextTask, nextCombine;  // the next piece of each kind to claim
    atomic_int chunksDone, tasksDone;             // pieces finished (their writes released)
} overlap_ctx;

static void drain_panels(overlap_ctx *o) {
    for (int k; (k = atomic_fetch_add_explicit(&o->nextChunk, 1, memory_order_relaxed)) < o->chunks;) {
        int end = (k + 1) * PANEL_CHUNK;
        panel_columns(&o->panel, k * PANEL_CHUNK, end < o->panel.outFeatures ? end : o->panel.outFeatures);
        atomic_fetch_add_explicit(&o->chunksDone, 1, memory_order_release);
    }
}

static void drain_tasks(overlap_ctx *o) {
    for (int t; (t = atomic_fetch_add_explicit(&o->nextTask, 1, memory_order_relaxed)) < o->taskCount;) {
        sb_lowrank_run_task(&o->tasks[t], o->panel.x, o->panel.ldx, o->delta, o->panel.ldy, 1);
        atomic_fetch_add_explicit(&o->tasksDone, 1, memory_order_release);
    }
}

// Thread `index` of the region: even threads start with the low-rank tasks, odd ones with the
// panels; then every thread waits for the pieces still running elsewhere and shares the combine.
static void overlap_thread(void *arg, int begin, int end) {
    overlap_ctx *o = arg;
    for (int index = begin; index < end; index++) {
        if (index % 2 == 0) { drain_tasks(o); drain_panels(o); }
        else { drain_panels(o); drain_tasks(o); }
    }
    while (atomic_load_explicit(&o->chunksDone, memory_order_acquire) < o->chunks ||
           atomic_load_explicit(&o->tasksDone, memory_order_acquire) < o->taskCount)
        _mm_pause();
    for (int t; (t = atomic_fetch_add_explicit(&o->nextCombine, 1, memory_order_relaxed)) < o->taskCount;)
        sb_lowrank_combine(o->tasks, t, t + 1, o->delta, o->panel.y, o->panel.ldy);
}

void sb_gemm_quant_panel_lowrank(int type, const float *x, int ldx, int rows, const void *w, int inFeatures,
                                 int outFeatures, float *y, int ldy, int accumulate,
                                 const sb_lowrank_task *tasks, int taskCount, float *delta) {
    if (taskCount <= 0) {
        sb_gemm_quant_panel(type, x, ldx, rows, w, inFeatures, outFeatures, y, ldy, accumulate);
        return;
    }
    overlap_ctx o = { { type, x, ldx, rows, w, inFeatures, outFeatures, y, ldy, accumulate }, tasks, taskCount, delta,
                      (outFeatures + PANEL_CHUNK - 1) / PANEL_CHUNK };
    atomic_init(&o.nextChunk, 0);
    atomic_init(&o.nextTask, 0);
    atomic_init(&o.nextCombine, 0);
    atomic_init(&o.chunksDone, 0);
    atomic_init(&o.tasksDone, 0);
    int threads = sb_thread_count();
    sb_parallel_for(threads > 1 ? threads : 1, 1, overlap_thread, &o);
}
