// LoRA shrink/expand for small row counts, one adapter segment per task.
// Plain AVX2/FMA loops: a decode step has one or a few rows per adapter, where a BLAS call's
// fixed cost would exceed the arithmetic. Each row's sums run in a fixed order, so a row's
// result does not depend on how many rows share its segment.
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

/// u[k] = x · A[k, :] for k < rank.
static void shrink_row(const float *x, const float *a, int rank, int in, float *u) {
    for (int k = 0; k < rank; k++) {
        const float *ak = a + (int64_t)k * in;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int i = 0;
        for (; i + 16 <= in; i += 16) {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(ak + i), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(ak + i + 8), acc1);
        }
        for (; i + 8 <= in; i += 8)
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(ak + i), acc0);
        float sum = hsum8(_mm256_add_ps(acc0, acc1));
        for (; i < in; i++) sum += x[i] * ak[i];
        u[k] = sum;
    }
}

/// y[j] = c_j·y[j] + Σ_k u[k]·Bᵀ[k, j], u already multiplied by the scale.
static void expand_row(const float *u, const float *bt, int rank, int out, const float *gain,
                       float gain_weight, float *y) {
    int j = 0;
    for (; j + 8 <= out; j += 8) {
        __m256 acc = _mm256_loadu_ps(y + j);
        if (gain) {
            __m256 g = _mm256_loadu_ps(gain + j);
            __m256 c = _mm256_add_ps(_mm256_set1_ps(1.0f),
                                     _mm256_mul_ps(_mm256_set1_ps(gain_weight), _mm256_sub_ps(g, _mm256_set1_ps(1.0f))));
            acc = _mm256_mul_ps(acc, c);
        }
        for (int k = 0; k < rank; k++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(u[k]), _mm256_loadu_ps(bt + (int64_t)k * out + j), acc);
        _mm256_storeu_ps(y + j, acc);
    }
    for (; j < out; j++) {
        float acc = y[j];
        if (gain) acc *= 1.0f + gain_weight * (gain[j] - 1.0f);
        for (int k = 0; k < rank; k++) acc = fmaf(u[k], bt[(int64_t)k * out + j], acc);
        y[j] = acc;
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
    float u[SB_LOWRANK_MAX_RANK];
    for (int t = begin; t < end; t++) {
        const sb_lowrank_task *task = &ctx->tasks[t];
        for (int r = 0; r < task->rows; r++) {
            int64_t row = task->first_row + r;
            shrink_row(ctx->x + row * ctx->ldx, task->a, task->rank, task->in_features, u);
            for (int k = 0; k < task->rank; k++) u[k] *= task->scale;
            expand_row(u, task->bt, task->rank, task->out_features, task->gain, task->gain_weight,
                       ctx->y + row * ctx->ldy + task->y_offset);
        }
    }
}

void sb_lowrank_apply(const sb_lowrank_task *tasks, int count, const float *x, int ldx,
                      float *y, int ldy) {
    if (count <= 0) return;
    lowrank_ctx ctx = { tasks, x, ldx, y, ldy };
    sb_parallel_for(count, 1, lowrank_range, &ctx);
}
