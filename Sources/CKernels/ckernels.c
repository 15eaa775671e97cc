// AVX2/FMA implementations of the hot loops declared in ckernels.h.
#include "ckernels.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

// Horizontal sum of 8 lanes.
static inline float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 shuf = _mm_movehdup_ps(lo);
    __m128 sums = _mm_add_ps(lo, shuf);
    shuf = _mm_movehl_ps(shuf, sums);
    sums = _mm_add_ss(sums, shuf);
    return _mm_cvtss_f32(sums);
}

static inline float dot(const float *a, const float *b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum8(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

// y += a * x
static inline void axpy(float *y, const float *x, float a, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

void sb_rms_norm(const float *x, int ldx, const float *weight, float *out, int ldo,
                 int rows, int dim, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * ldx;
        float *o = out + (long)r * ldo;
        float ss = dot(xr, xr, dim);
        // Same order as transformers: x * rsqrt(mean + eps), then * weight.
        float inv = 1.0f / sqrtf(ss / (float)dim + eps);
        for (int i = 0; i < dim; i++) o[i] = weight[i] * (xr[i] * inv);
    }
}

void sb_rope_rotate_half(float *x, int ld, int rows, int heads, int headDim,
                         const int32_t *positions, const float *cosTable, const float *sinTable) {
    int half = headDim / 2;
    for (int r = 0; r < rows; r++) {
        const float *c = cosTable + (long)positions[r] * half;
        const float *s = sinTable + (long)positions[r] * half;
        for (int h = 0; h < heads; h++) {
            float *v = x + (long)r * ld + (long)h * headDim;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

void sb_silu_mul(const float *gate, const float *up, int ldIn, float *out, int ldOut,
                 int rows, int dim) {
    for (int r = 0; r < rows; r++) {
        const float *g = gate + (long)r * ldIn;
        const float *u = up + (long)r * ldIn;
        float *o = out + (long)r * ldOut;
        for (int i = 0; i < dim; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void sb_add_inplace(float *x, const float *y, int count) {
    int i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < count; i++) x[i] += y[i];
}

void sb_kv_store(const float *k, int ldk, const float *v, int ldv, int n, int firstPos,
                 float *kCache, float *vCache, const int32_t *blockTable, int blockSize, int kvDim) {
    for (int i = 0; i < n; i++) {
        int pos = firstPos + i;
        long slot = (long)blockTable[pos / blockSize] * blockSize + pos % blockSize;
        memcpy(kCache + slot * kvDim, k + (long)i * ldk, sizeof(float) * kvDim);
        memcpy(vCache + slot * kvDim, v + (long)i * ldv, sizeof(float) * kvDim);
    }
}

void sb_attention_paged(const float *q, int ldq, int nQuery, int firstPos,
                        const float *kCache, const float *vCache, const int32_t *blockTable,
                        int blockSize, int heads, int kvHeads, int headDim, float scale,
                        float *out, int ldo, float *scores) {
    int kvDim = kvHeads * headDim;
    int group = heads / kvHeads;
    for (int i = 0; i < nQuery; i++) {
        int nKeys = firstPos + i + 1;
        for (int h = 0; h < heads; h++) {
            const float *qh = q + (long)i * ldq + (long)h * headDim;
            int kvh = h / group;
            float maxScore = -INFINITY;
            for (int t = 0; t < nKeys; t++) {
                long slot = (long)blockTable[t / blockSize] * blockSize + t % blockSize;
                float s = dot(qh, kCache + slot * kvDim + (long)kvh * headDim, headDim) * scale;
                scores[t] = s;
                if (s > maxScore) maxScore = s;
            }
            float sum = 0.0f;
            for (int t = 0; t < nKeys; t++) {
                float e = expf(scores[t] - maxScore);
                scores[t] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
            float *o = out + (long)i * ldo + (long)h * headDim;
            memset(o, 0, sizeof(float) * headDim);
            for (int t = 0; t < nKeys; t++) {
                long slot = (long)blockTable[t / blockSize] * blockSize + t % blockSize;
                axpy(o, vCache + slot * kvDim + (long)kvh * headDim, scores[t] * inv, headDim);
            }
        }
    }
}
