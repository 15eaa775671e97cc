// Quantized small-batch GEMM kernels and a minimal spin-then-sleep thread pool.
#include "ckernels_quant.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------
// Thread pool: workers wait for a new "generation", run their slice, count themselves done.

typedef void (*task_fn)(void *ctx, int begin, int end);

#define MAX_THREADS 64
static int pool_threads = 0;                // including the caller; 0 = not started
static pthread_t workers[MAX_THREADS];
static atomic_uint generation;
static atomic_int remaining;
static task_fn current_fn;
static void *current_ctx;
static int current_n;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t dispatch_lock = PTHREAD_MUTEX_INITIALIZER;

static void slice(int n, int parts, int index, int *begin, int *end) {
    // Whole 8-column groups per part keep stores aligned to cache lines.
    int groups = (n + 7) / 8;
    int b = (int)((long)groups * index / parts) * 8, e = (int)((long)groups * (index + 1) / parts) * 8;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

static void *worker_main(void *arg) {
    int index = (int)(long)arg;
    unsigned seen = 0;  // generation starts at 0 and only moves after the pool exists
    for (;;) {
        // Spin briefly (a decode step issues the next call within microseconds), then sleep.
        int spins = 0;
        while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
            if (++spins < 20000) { _mm_pause(); continue; }
            pthread_mutex_lock(&pool_lock);
            while (atomic_load(&generation) == seen) pthread_cond_wait(&pool_wake, &pool_lock);
            pthread_mutex_unlock(&pool_lock);
        }
        seen = atomic_load(&generation);
        int begin, end;
        slice(current_n, pool_threads, index, &begin, &end);
        if (begin < end) current_fn(current_ctx, begin, end);
        atomic_fetch_sub_explicit(&remaining, 1, memory_order_release);
    }
    return NULL;
}

static void start_pool(void) {
    if (pool_threads > 0) return;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int wanted = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
    pool_threads = wanted;
    for (int i = 1; i < wanted; i++) pthread_create(&workers[i], NULL, worker_main, (void *)(long)i);
}

void sb_set_thread_count(int threads) {
    pthread_mutex_lock(&dispatch_lock);
    if (pool_threads == 0) {
        if (threads < 1) threads = 1;
        if (threads > MAX_THREADS) threads = MAX_THREADS;
        pool_threads = threads;
        for (int i = 1; i < threads; i++) pthread_create(&workers[i], NULL, worker_main, (void *)(long)i);
    }
    pthread_mutex_unlock(&dispatch_lock);
}

int sb_thread_count(void) { return pool_threads; }

// Runs fn over [0, n) split across the pool; returns when every slice is done.
static void parallel_for(int n, task_fn fn, void *ctx) {
    pthread_mutex_lock(&dispatch_lock);
    start_pool();
    if (pool_threads == 1 || n < 64) {
        fn(ctx, 0, n);
        pthread_mutex_unlock(&dispatch_lock);
        return;
    }
    current_fn = fn;
    current_ctx = ctx;
    current_n = n;
    atomic_store(&remaining, pool_threads - 1);
    pthread_mutex_lock(&pool_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);
    int begin, end;
    slice(n, pool_threads, 0, &begin, &end);
    if (begin < end) fn(ctx, begin, end);
    while (atomic_load_explicit(&remaining, memory_order_acquire) > 0) _mm_pause();
    pthread_mutex_unlock(&dispatch_lock);
}

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

// y[m, n] = sum over blocks of d * (q · x_block) + m * sum(x_block).
static void q4_1_task(void *arg, int begin, int end) {
    const gemm_ctx *c = arg;
    const int blocks = c->inFeatures / 32;
    const __m256i low = _mm256_set1_epi32(0xF);
    for (int n = begin; n < end; n++) {
        const uint8_t *row = c->w + (long)n * blocks * 20;
        __m256 acc[SB_QUANT_MAX_ROWS];
        float offset[SB_QUANT_MAX_ROWS];
        for (int m = 0; m < c->rows; m++) { acc[m] = _mm256_setzero_ps(); offset[m] = 0; }
        for (int b = 0; b < blocks; b++) {
            const uint8_t *blk = row + b * 20;
            __m256 d = _mm256_set1_ps(f16(blk));
            float mn = f16(blk + 2);
            // Nibbles: bytes 0-15 low halves are values 0-15, high halves values 16-31.
            __m128i bytes = _mm_loadu_si128((const __m128i *)(blk + 4));
            __m256i b0 = _mm256_cvtepu8_epi32(bytes);
            __m256i b1 = _mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8));
            __m256 q0 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b0, low)));
            __m256 q1 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(b1, low)));
            __m256 q2 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b0, 4)));
            __m256 q3 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_srli_epi32(b1, 4)));
            for (int m = 0; m < c->rows; m++) {
                const float *xb = c->x + (long)m * c->ldx + b * 32;
                __m256 a = acc[m];
                a = _mm256_fmadd_ps(q0, _mm256_loadu_ps(xb), a);
                a = _mm256_fmadd_ps(q1, _mm256_loadu_ps(xb + 8), a);
                a = _mm256_fmadd_ps(q2, _mm256_loadu_ps(xb + 16), a);
                a = _mm256_fmadd_ps(q3, _mm256_loadu_ps(xb + 24), a);
                acc[m] = a;
                offset[m] += mn * c->blockSums[m * blocks + b];
            }
        }
        for (int m = 0; m < c->rows; m++) {
            float v = hsum(acc[m]) + offset[m];
            float *out = c->y + (long)m * c->ldy + n;
            *out = c->accumulate ? *out + v : v;
        }
    }
}

static void q8_0_task(void *arg, int begin, int end) {
    const gemm_ctx *c = arg;
    const int blocks = c->inFeatures / 32;
    for (int n = begin; n < end; n++) {
        const uint8_t *row = c->w + (long)n * blocks * 34;
        __m256 acc[SB_QUANT_MAX_ROWS];
        for (int m = 0; m < c->rows; m++) acc[m] = _mm256_setzero_ps();
        for (int b = 0; b < blocks; b++) {
            const uint8_t *blk = row + b * 34;
            __m256 d = _mm256_set1_ps(f16(blk));
            __m128i lo = _mm_loadu_si128((const __m128i *)(blk + 2));
            __m128i hi = _mm_loadu_si128((const __m128i *)(blk + 18));
            __m256 q0 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)));
            __m256 q1 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))));
            __m256 q2 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)));
            __m256 q3 = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))));
            for (int m = 0; m < c->rows; m++) {
                const float *xb = c->x + (long)m * c->ldx + b * 32;
                __m256 a = acc[m];
                a = _mm256_fmadd_ps(q0, _mm256_loadu_ps(xb), a);
                a = _mm256_fmadd_ps(q1, _mm256_loadu_ps(xb + 8), a);
                a = _mm256_fmadd_ps(q2, _mm256_loadu_ps(xb + 16), a);
                a = _mm256_fmadd_ps(q3, _mm256_loadu_ps(xb + 24), a);
                acc[m] = a;
            }
        }
        for (int m = 0; m < c->rows; m++) {
            float v = hsum(acc[m]);
            float *out = c->y + (long)m * c->ldy + n;
            *out = c->accumulate ? *out + v : v;
        }
    }
}

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
    parallel_for(outFeatures, q4_1_task, &c);
}

void sb_gemm_q8_0(const float *x, int ldx, int rows, const void *w, int inFeatures, int outFeatures,
                  float *y, int ldy, int accumulate) {
    gemm_ctx c = { x, ldx, rows, w, inFeatures, y, ldy, accumulate, NULL };
    parallel_for(outFeatures, q8_0_task, &c);
}

// ---------------------------------------------------------------------------------------
// Panel kernel: dequantize 4 weight rows, multiply every x row against them.

typedef struct {
    int type;
    const float *x; int ldx; int rows;
    const uint8_t *w; int inFeatures;
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

static void panel_task(void *arg, int begin, int end) {
    const panel_ctx *c = arg;
    const int K = c->inFeatures, blocks = K / 32;
    const int rowBytes = blocks * (c->type == 3 ? 20 : 34);
    // Per-thread panel of 4 dequantized weight rows, grown on demand.
    static __thread float *panel = NULL;
    static __thread int capacity = 0;
    if (capacity < 4 * K) {
        free(panel);
        panel = aligned_alloc(64, sizeof(float) * 4 * (size_t)K);
        capacity = 4 * K;
    }
    for (int n0 = begin; n0 < end; n0 += 4) {
        int nw = end - n0 < 4 ? end - n0 : 4;
        for (int j = 0; j < nw; j++) dequantize_row(c->type, c->w + (long)(n0 + j) * rowBytes, blocks, panel + j * K);
        for (int j = nw; j < 4; j++) memset(panel + j * K, 0, sizeof(float) * K);
        const float *w0 = panel, *w1 = panel + K, *w2 = panel + 2 * K, *w3 = panel + 3 * K;
        int m = 0;
        // Two x rows against four weight rows: 8 accumulators, 6 loads per 8 FMAs.
        for (; m + 2 <= c->rows; m += 2) {
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
        for (; m < c->rows; m++) {
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

void sb_gemm_quant_panel(int type, const float *x, int ldx, int rows, const void *w, int inFeatures,
                         int outFeatures, float *y, int ldy, int accumulate) {
    panel_ctx c = { type, x, ldx, rows, w, inFeatures, y, ldy, accumulate };
    parallel_for(outFeatures, panel_task, &c);
}
