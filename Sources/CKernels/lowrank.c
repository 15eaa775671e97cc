// LoRA shrink/expand, one adapter segment's rows per task, up to 4 rows at a time sharing
// each load of A and Bᵀ. Plain AVX2/FMA loops: a decode step has one or a few rows per adapter,
// where a BLAS call's fixed cost would exceed the arithmetic. Each row's sums run in a fixed
// order, so a row's result does not depend on how many rows share its segment or group.
// A and Bᵀ are f32 or IEEE half (F16C converts 8 values per instruction); with many distinct
// adapters per step the kernel is bound by the bytes of A and Bᵀ it reads, which half halves.
#include "ckernels.h"
#include <immintrin.h>
#include <math.h>

static inline float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/// Rows processed together: A and Bᵀ are read once per group instead of once per row.
#define ROW_GROUP 4

/// 8 consecutive weights from f32 or half storage, as f32.
static inline __attribute__((always_inline)) __m256 load8(const void *w, int64_t i, int half) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + i)));
    return _mm256_loadu_ps((const float *)w + i);
}

/// One weight from f32 or half storage, as f32.
static inline __attribute__((always_inline)) float load1(const void *w, int64_t i, int half) {
    if (half) return _cvtsh_ss(((const uint16_t *)w)[i]);
    return ((const float *)w)[i];
}

/// shrink for up to ROW_GROUP rows at once; each row's sums run in the same order whatever
/// group it is in, so a row's result does not depend on its neighbours. `half` is a constant
/// at every call site, so the compiler emits one loop per storage type.
static inline __attribute__((always_inline)) void shrink_rows(const float *const *xs, int n, const void *a, int half,
                                                              int rank, int in, float (*u)[SB_LOWRANK_MAX_RANK]) {
    for (int k = 0; k < rank; k++) {
        const int64_t ak = (int64_t)k * in;
        __m256 acc0[ROW_GROUP], acc1[ROW_GROUP];
        for (int r = 0; r < n; r++) { acc0[r] = _mm256_setzero_ps(); acc1[r] = _mm256_setzero_ps(); }
        int i = 0;
        for (; i + 16 <= in; i += 16) {
            __m256 w0 = load8(a, ak + i, half), w1 = load8(a, ak + i + 8, half);
            for (int r = 0; r < n; r++) {
                acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[r] + i), w0, acc0[r]);
                acc1[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[r] + i + 8), w1, acc1[r]);
            }
        }
        for (; i + 8 <= in; i += 8) {
            __m256 w0 = load8(a, ak + i, half);
            for (int r = 0; r < n; r++) acc0[r] = _mm256_fmadd_ps(_mm256_loadu_ps(xs[r] + i), w0, acc0[r]);
        }
        for (int r = 0; r < n; r++) {
            float sum = hsum8(_mm256_add_ps(acc0[r], acc1[r]));
            for (int t = i; t < in; t++) sum += xs[r][t] * load1(a, ak + t, half);
            u[r][k] = sum;
        }
    }
}

/// expand for up to ROW_GROUP rows at once, each row in the same order whatever its group.
static inline __attribute__((always_inline)) void expand_rows(float (*u)[SB_LOWRANK_MAX_RANK], int n, const void *bt,
                                                              int half, int rank, int out, const float *gain,
                                                              float gain_weight, float *const *ys) {
    int j = 0;
    for (; j + 8 <= out; j += 8) {
        __m256 acc[ROW_GROUP];
        __m256 c = _mm256_set1_ps(1.0f);
        if (gain) {
            __m256 g = _mm256_loadu_ps(gain + j);
            c = _mm256_add_ps(_mm256_set1_ps(1.0f),
                              _mm256_mul_ps(_mm256_set1_ps(gain_weight), _mm256_sub_ps(g, _mm256_set1_ps(1.0f))));
        }
        for (int r = 0; r < n; r++) {
            acc[r] = _mm256_loadu_ps(ys[r] + j);
            if (gain) acc[r] = _mm256_mul_ps(acc[r], c);
        }
        for (int k = 0; k < rank; k++) {
            __m256 w = load8(bt, (int64_t)k * out + j, half);
            for (int r = 0; r < n; r++) acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(u[r][k]), w, acc[r]);
        }
        for (int r = 0; r < n; r++) _mm256_storeu_ps(ys[r] + j, acc[r]);
    }
    for (int r = 0; r < n; r++) {
        for (int t = j; t < out; t++) {
            float value = ys[r][t];
            if (gain) value *= 1.0f + gain_weight * (gain[t] - 1.0f);
            for (int k = 0; k < rank; k++) value = fmaf(u[r][k], load1(bt, (int64_t)k * out + t, half), value);
            ys[r][t] = value;
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
    float u[ROW_GROUP][SB_LOWRANK_MAX_RANK];
    for (int t = begin; t < end; t++) {
        const sb_lowrank_task *task = &ctx->tasks[t];
        for (int first = 0; first < task->rows; first += ROW_GROUP) {
            int n = task->rows - first < ROW_GROUP ? task->rows - first : ROW_GROUP;
            const float *xs[ROW_GROUP];
            float *ys[ROW_GROUP];
            for (int r = 0; r < n; r++) {
                int64_t row = task->first_row + first + r;
                xs[r] = ctx->x + row * ctx->ldx;
                ys[r] = ctx->y + row * ctx->ldy + task->y_offset;
            }
            if (task->half) shrink_rows(xs, n, task->a, 1, task->rank, task->in_features, u);
            else shrink_rows(xs, n, task->a, 0, task->rank, task->in_features, u);
            for (int r = 0; r < n; r++)
                for (int k = 0; k < task->rank; k++) u[r][k] *= task->scale;
            if (task->half) expand_rows(u, n, task->bt, 1, task->rank, task->out_features, task->gain, task->gain_weight, ys);
            else expand_rows(u, n, task->bt, 0, task->rank, task->out_features, task->gain, task->gain_weight, ys);
        }
    }
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

void sb_f16_to_f32(const uint16_t *src, float *dst, int64_t count) {
    for (int64_t i = 0; i < count; i++) dst[i] = _cvtsh_ss(src[i]);
}
